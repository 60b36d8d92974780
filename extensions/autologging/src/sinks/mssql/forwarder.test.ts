import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { event, hostSample, session } from '../../../../../tests/support/records.ts';
import { tempDir } from '../../../../../tests/support/temp.ts';
import { FieldCipher } from '../../crypto/field-cipher.ts';
import { openKeyring } from '../../crypto/keyring.ts';
import { AbortedError } from '../../errors.ts';
import { Journal } from '../../journal/journal.ts';
import { memoryLogger } from '../../log/logger.ts';
import type { TargetTable } from './columns.ts';
import { MssqlError } from './errors.ts';
import {
  Forwarder,
  journalFeed,
  type ForwarderJournal,
  type ForwarderOptions,
} from './forwarder.ts';
import { MemorySink, driverError, type MemorySinkStep } from './memory-sink.ts';

const AGENT = 'vda-logger-1';
const START = Date.UTC(2026, 11, 31, 20);
const HOUR = 3_600_000;
const opened: Journal[] = [];
/** One keyring for the file: its scrypt is slow, and the keys need not differ between tests. */
const keys = openKeyring({ home: tempDir() });

afterEach(() => {
  for (const journal of opened.splice(0)) journal.close();
});

/** A real journal in a temp folder, a memory sink and a forwarder on a fake clock. */
function setup(options: Partial<ForwarderOptions> & { home?: string } = {}) {
  const home = options.home ?? tempDir();
  const clock = { now: START + 30 * 24 * HOUR };
  const journal = Journal.open(
    path.join(home, 'journal.db'),
    new FieldCipher(keys),
    () => clock.now,
  );
  opened.push(journal);
  const sink = new MemorySink();
  const log = memoryLogger();
  const sleeps: number[] = [];
  const duringSleep: Array<() => void> = [];
  const forwarder = new Forwarder({
    journal: journalFeed(journal),
    sink,
    agent: AGENT,
    limits: { maxRecords: 4, maxBytes: 1_000_000 },
    log,
    now: () => clock.now,
    sleep: async (ms) => {
      if (sleeps.length >= 50) throw new Error('still retrying after 50 attempts');
      sleeps.push(ms);
      clock.now += ms;
      duringSleep.shift()?.();
    },
    random: () => 0.5,
    ...options,
  });
  return { home, journal, sink, log, sleeps, duringSleep, forwarder, clock };
}

/**
 * Six sessions and six logons across the year end, two host samples, then three of the
 * sessions end (their rows move to later revisions), and two finished runs.
 */
function capture(journal: Journal, prefix = 's') {
  const records = [];
  for (let i = 0; i < 6; i++) {
    const start = START + i * HOUR;
    records.push(session({ key: `${prefix}-${i}`, startAt: start, stateChangedAt: start }));
    records.push(event({ key: `${prefix}-logon-${i}`, at: start, sessionKey: `${prefix}-${i}` }));
  }
  records.push(hostSample({ at: START, key: `${prefix}-h1` }));
  records.push(hostSample({ at: START + 2 * HOUR, key: `${prefix}-h2` }));
  const run = journal.startRun('capture:demo', 'capture', 'demo', 'schedule');
  journal.applyCapture('demo', records, null);
  journal.finishRun(run, { outcome: 'ok', recordsIn: records.length });

  const ended = [0, 1, 2].map((i) => {
    const end = START + (i + 9) * HOUR;
    return session({
      key: `${prefix}-${i}`,
      startAt: START + i * HOUR,
      endAt: end,
      state: 'Terminated',
      stateChangedAt: end,
    });
  });
  const second = journal.startRun('capture:demo', 'capture', 'demo', 'schedule');
  journal.applyCapture('demo', ended, null);
  journal.finishRun(second, { outcome: 'ok', recordsIn: 3, recordsUpdated: 3 });
}

const JOURNAL_TABLES: TargetTable[] = ['sessions', 'events', 'host_load'];

/**
 * Every record of the journal is in the sink once, at its latest revision; no row of any
 * committed batch was sent twice; every finished run is there once.
 */
function expectExactlyOnce(journal: Journal, sink: MemorySink) {
  const latest = journal.changes(0, 1_000_000);
  for (const table of JOURNAL_TABLES) {
    const want = latest
      .filter((c) => c.table === table)
      .map((c) => `${c.row.id as string}@${c.rev}`)
      .sort();
    const have = sink
      .rows(table)
      .map((r) => `${r.id as string}@${r.rev as number}`)
      .sort();
    expect(have, table).toEqual(want);
  }
  const delivered = sink.deliveries.map((d) => `${d.table}|${d.key}|${d.rev}`);
  const twice = delivered.filter((d, i) => delivered.indexOf(d) !== i);
  expect(twice, 'rows delivered twice').toEqual([]);

  const finished = journal.recentRuns(1_000).filter((r) => r.outcome !== 'running');
  expect(
    sink
      .rows('runs')
      .map((r) => r.run_id)
      .sort(),
  ).toEqual(finished.map((r) => r.id).sort());
}

const socketError = () => driverError('Connection lost - read ECONNRESET', { code: 'ESOCKET' });
const deadlock = () =>
  Object.assign(new Error('Transaction was deadlocked and has been chosen as the victim.'), {
    code: 'EREQUEST',
    number: 1205,
  });
const timeout = () => driverError('Timeout: Request failed to complete', { code: 'ETIMEOUT' });
const loginFailed = () => driverError("Login failed for user 'autologging'.", { code: 'ELOGIN' });

describe('Forwarder', () => {
  it('stores every journal record and finished run once, in batches', async () => {
    const { journal, sink, forwarder } = setup();
    capture(journal);

    const report = await forwarder.forward();

    expectExactlyOnce(journal, sink);
    expect(report).toMatchObject({ records: 14, runs: 2, inserted: 16, updated: 0 });
    expect(report.batches).toBe(5);
    expect(sink.cursors.get(AGENT)).toEqual({ rev: journal.lastRev(), runsAfter: 2 });
    expect(forwarder.status()).toMatchObject({ state: 'ok', lag: { records: 0, ageMs: 0 } });
  });

  it('sends only what changed since the last time, updating sessions that progressed', async () => {
    const { journal, sink, forwarder } = setup();
    capture(journal);
    await forwarder.forward();
    const end = START + 20 * HOUR;
    journal.applyCapture(
      'demo',
      [
        session({
          key: 's-4',
          startAt: START + 4 * HOUR,
          endAt: end,
          state: 'Terminated',
          stateChangedAt: end,
        }),
      ],
      null,
    );

    const report = await forwarder.forward();

    expect(report).toMatchObject({ batches: 1, records: 1, inserted: 0, updated: 1 });
    expectExactlyOnce(journal, sink);
    const stored = sink.rows('sessions').find((r) => r.natural_key === 's-4');
    expect((stored?.end_at as Date).getTime()).toBe(end);
  });

  it('does nothing when the journal holds nothing new', async () => {
    const { journal, sink, forwarder } = setup();
    capture(journal);
    await forwarder.forward();
    const commits = sink.commits;

    expect(await forwarder.forward()).toMatchObject({ batches: 0, records: 0, runs: 0 });
    expect(sink.commits).toBe(commits);
  });

  it('stores times as UTC instants, exactly, on both sides of the year end', async () => {
    const { journal, sink, forwarder } = setup();
    const last = Date.UTC(2026, 11, 31, 23, 59, 59, 999);
    const first = Date.UTC(2027, 0, 1);
    journal.applyCapture(
      'demo',
      [event({ key: 'a', at: last }), event({ key: 'b', at: first })],
      null,
    );
    await forwarder.forward();
    const times = sink.rows('events').map((r) => (r.at as Date).toISOString());
    expect(times.sort()).toEqual(['2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00.000Z']);
  });

  it('keeps personal fields as ciphertext and blind index', async () => {
    const { journal, sink, forwarder } = setup();
    journal.applyCapture('demo', [session()], null);
    await forwarder.forward();
    const [row] = sink.rows('sessions');
    expect(row!.user_enc).toBeInstanceOf(Buffer);
    expect(row!.user_idx).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(row)).not.toContain('minjun');
  });

  it('cuts batches by bytes as well as by count', async () => {
    const { journal, sink, forwarder } = setup({ limits: { maxRecords: 100, maxBytes: 1 } });
    capture(journal);
    const report = await forwarder.forward();
    expect(report.batches).toBe(14 + 1);
    expectExactlyOnce(journal, sink);
  });
});

describe('Forwarder after a failure at any step of a batch', () => {
  const steps: MemorySinkStep[] = [
    'open',
    'read-cursor',
    'before-load',
    'after-load',
    'before-commit',
    'after-commit',
  ];
  const errors = { 'socket error': socketError, deadlock, timeout };
  const matrix = steps.flatMap((step) =>
    Object.entries(errors).flatMap(([name, make]) =>
      [0, 1, 3].map((after) => ({ step, name, make, after, pass: `pass ${after + 1}` })),
    ),
  );

  it.each(matrix)(
    'stores every record exactly once after a $name at $step on its $pass',
    async ({ step, make, after }) => {
      const { journal, sink, forwarder, sleeps } = setup();
      capture(journal);
      sink.failAt(step, make(), 1, after);

      await forwarder.forward();

      expectExactlyOnce(journal, sink);
      expect(forwarder.status()).toMatchObject({ state: 'ok', attempts: 0 });
      const reached = step === 'open' || step === 'read-cursor' ? after === 0 : true;
      if (reached) expect(sleeps.length).toBe(1);
    },
  );

  it.each(steps)(
    'stores every record exactly once when captures go on while %s keeps failing',
    async (step) => {
      const { journal, sink, forwarder, duringSleep } = setup();
      capture(journal);
      const once = step === 'open' || step === 'read-cursor';
      sink.failAt(step, socketError(), 3, once ? 0 : 1);
      duringSleep.push(() => capture(journal, 'later'));
      duringSleep.push(() =>
        journal.applyCapture('demo', [hostSample({ key: 'x', at: START })], null),
      );

      await forwarder.forward();

      expectExactlyOnce(journal, sink);
      expect(sink.rows('sessions')).toHaveLength(12);
    },
  );

  it('does not send again a batch committed whose acknowledgement was lost', async () => {
    const { journal, sink, forwarder } = setup();
    capture(journal);
    sink.failAt('after-commit', socketError());

    await forwarder.forward();

    expect(sink.deliveries.length).toBe(16);
    expectExactlyOnce(journal, sink);
  });

  it('opens a new connection after a socket error, and keeps it after a deadlock', async () => {
    const a = setup();
    capture(a.journal);
    a.sink.failAt('before-load', socketError());
    await a.forwarder.forward();
    expect(a.sink.opens).toBe(2);

    const b = setup();
    capture(b.journal);
    b.sink.failAt('before-load', deadlock());
    await b.forwarder.forward();
    expect(b.sink.opens).toBe(1);
  });

  it('waits longer after each failure, with jitter, within the bounds', async () => {
    const { journal, forwarder, sink, sleeps } = setup({
      backoff: { baseMs: 1_000, maxMs: 8_000 },
    });
    capture(journal);
    sink.failAt('open', socketError(), 6);

    await forwarder.forward();

    expect(sleeps).toEqual([750, 1_500, 3_000, 6_000, 6_000, 6_000]);
  });

  it('reports a streak of the same failure once, and its end', async () => {
    const { journal, forwarder, sink, log } = setup();
    capture(journal);
    sink.failAt('open', socketError(), 4);

    await forwarder.forward();

    const warnings = log.entries.filter((e) => e.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.fields).toMatchObject({ code: 'EMSSQLCONNECTION', attempts: 1 });
    expect(log.entries.some((e) => e.message === 'SQL Server store reachable again')).toBe(true);
  });

  it('shows retrying with the error and the lag while the server is down', async () => {
    const { journal, forwarder, sink, clock } = setup({ maxAttempts: 3 });
    capture(journal);
    await forwarder.forward();
    journal.applyCapture('demo', [event({ key: 'new', at: START })], null);
    const capturedAt = clock.now;
    sink.failAt('before-load', timeout(), 10);

    await expect(forwarder.forward()).rejects.toMatchObject({ code: 'EMSSQLTIMEOUT' });

    const status = forwarder.status();
    expect(status).toMatchObject({
      state: 'retrying',
      attempts: 3,
      lastError: { code: 'EMSSQLTIMEOUT', number: null },
      lag: { records: 1 },
    });
    expect(status.lag!.ageMs).toBe(clock.now - capturedAt);
    expect(status.lastError!.message).toContain('Timeout');
  });

  it('gives up on an abort while waiting, keeping what was stored', async () => {
    const controller = new AbortController();
    const { journal, sink, forwarder } = setup({
      sleep: async () => {
        controller.abort();
        throw new AbortedError('forwarding');
      },
    });
    capture(journal);
    sink.failAt('before-load', deadlock(), 1, 2);

    await expect(forwarder.forward(controller.signal)).rejects.toBeInstanceOf(AbortedError);
    expect(sink.commits).toBe(2);
  });
});

describe('Forwarder stops', () => {
  it('on a refused login, with a clear status, while captures go on into the journal', async () => {
    const { journal, sink, forwarder } = setup();
    capture(journal);
    sink.failAt('open', loginFailed());

    await expect(forwarder.forward()).rejects.toMatchObject({
      code: 'EMSSQLLOGIN',
      recovery: 'stop',
    });
    expect(forwarder.status()).toMatchObject({
      state: 'stopped',
      lastError: { code: 'EMSSQLLOGIN', number: 18456 },
    });

    journal.applyCapture('demo', [event({ key: 'during-stop' })], null);
    await expect(forwarder.forward()).rejects.toMatchObject({ code: 'EMSSQLLOGIN' });
    expect(sink.opens).toBe(0);
    expect(forwarder.status().lag).toBeNull();

    forwarder.resume();
    await forwarder.forward();
    expectExactlyOnce(journal, sink);
    expect(forwarder.status().state).toBe('ok');
  });

  it.each([229, 230, 262, 297, 300])('on permission error %i', async (number) => {
    const { journal, sink, forwarder } = setup();
    capture(journal);
    sink.failAt(
      'before-load',
      Object.assign(new Error('The INSERT permission was denied'), { code: 'EREQUEST', number }),
    );
    await expect(forwarder.forward()).rejects.toMatchObject({ code: 'EMSSQLPERMISSION' });
    expect(forwarder.status()).toMatchObject({ state: 'stopped', lastError: { number } });
    expect(sink.closes).toBe(1);
  });

  it('on a record whose identity does not fit its column', async () => {
    const sink = new MemorySink();
    const journal: ForwarderJournal = {
      lastRev: () => 1,
      runsAfter: () => [],
      changes: (after) =>
        after >= 1 ? [] : [{ table: 'events', rev: 1, row: { ...eventRow(), id: 'x'.repeat(40) } }],
    };
    const forwarder = new Forwarder({ journal, sink, agent: AGENT, sleep: async () => {} });
    await expect(forwarder.forward()).rejects.toMatchObject({ code: 'EMSSQLDATA' });
    expect(forwarder.status().lastError!.message).toContain('events.id');
  });
});

describe('Forwarder cursor', () => {
  it('lives in the store: a new forwarder continues where the last one stopped', async () => {
    const { journal, sink, forwarder } = setup();
    capture(journal);
    await forwarder.forward();
    journal.applyCapture('demo', [event({ key: 'next' })], null);

    const again = new Forwarder({ journal: journalFeed(journal), sink, agent: AGENT });
    const report = await again.forward();

    expect(report).toMatchObject({ records: 1, runs: 0 });
    expectExactlyOnce(journal, sink);
  });

  it('forwards a replaced journal from its start without storing anything twice', async () => {
    const { journal, sink, forwarder, log } = setup();
    capture(journal);
    sink.cursors.set(AGENT, { rev: 10_000, runsAfter: 500 });

    await forwarder.forward();

    expect(sink.cursors.get(AGENT)).toEqual({ rev: journal.lastRev(), runsAfter: 2 });
    expect(sink.rows('sessions')).toHaveLength(6);
    expect(log.entries.some((e) => e.message.includes('ahead of the journal'))).toBe(true);
  });

  it('re-reads the cursor when another writer moved it, and sends nothing twice', async () => {
    const { journal, sink, forwarder } = setup();
    capture(journal);
    const other = new Forwarder({
      journal: journalFeed(journal),
      sink,
      agent: AGENT,
      limits: { maxRecords: 2, maxBytes: 1e6 },
      sleep: async () => {},
    });

    await Promise.all([forwarder.forward(), other.forward()]);

    expectExactlyOnce(journal, sink);
  });

  it('holds back runs after one still running, and sends them once it ends', async () => {
    const { journal, sink, forwarder } = setup();
    const first = journal.startRun('export', 'export', null, 'schedule');
    const second = journal.startRun('capture:demo', 'capture', 'demo', 'schedule');
    journal.finishRun(second, { outcome: 'failed', errorCode: 'ETIMEOUT' });

    await forwarder.forward();
    expect(sink.rows('runs')).toHaveLength(0);

    journal.finishRun(first, { outcome: 'ok' });
    await forwarder.forward();
    expect(sink.rows('runs').map((r) => [r.run_id, r.outcome])).toEqual([
      [first, 'ok'],
      [second, 'failed'],
    ]);
    expect(sink.rows('runs')[0]).toMatchObject({ agent: AGENT, triggered_by: 'schedule' });
    expectExactlyOnce(journal, sink);
  });

  it('shares one pass between concurrent calls', async () => {
    const { journal, sink, forwarder } = setup();
    capture(journal);
    const [a, b] = await Promise.all([forwarder.forward(), forwarder.forward()]);
    expect(a).toBe(b);
    expect(sink.opens).toBe(1);
  });

  it('tells the lag after a restart while the server is down, from its hint file', async () => {
    const first = setup();
    const hintFile = path.join(first.home, 'mssql-forwarder.json');
    const forwarder = new Forwarder({
      journal: journalFeed(first.journal),
      sink: first.sink,
      agent: AGENT,
      hintFile,
    });
    capture(first.journal);
    await forwarder.forward();
    expect(JSON.parse(fs.readFileSync(hintFile, 'utf8'))).toMatchObject({
      agent: AGENT,
      rev: first.journal.lastRev(),
    });
    first.journal.applyCapture('demo', [event({ key: 'after' })], null);

    const restarted = new Forwarder({
      journal: journalFeed(first.journal),
      sink: new MemorySink(),
      agent: AGENT,
      hintFile,
    });
    expect(restarted.status().lag).toMatchObject({ records: 1 });
  });

  it('tells no lag before it knows the cursor, and none for an empty journal', () => {
    const { forwarder } = setup();
    expect(forwarder.status().lag).toEqual({ records: 0, ageMs: 0 });
    const other = setup();
    capture(other.journal);
    expect(other.forwarder.status().lag).toBeNull();
  });
});

describe('journalFeed', () => {
  it('lists finished runs after an id in id order, and none past a run still running', () => {
    const { journal } = setup();
    const ids = Array.from({ length: 5 }, (_, i) =>
      journal.startRun(`job${i}`, 'capture', null, 'manual'),
    );
    for (const id of ids.filter((_, i) => i !== 3)) journal.finishRun(id, { outcome: 'ok' });
    const feed = journalFeed(journal);

    expect(feed.runsAfter(ids[0]!, 10).map((r) => r.id)).toEqual([ids[1], ids[2]]);
    expect(feed.runsAfter(ids[0]!, 1).map((r) => r.id)).toEqual([ids[1]]);
    journal.finishRun(ids[3]!, { outcome: 'failed', errorCode: 'ETIMEOUT' });
    expect(feed.runsAfter(ids[2]!, 10).map((r) => r.id)).toEqual([ids[3], ids[4]]);
    expect(feed.runsAfter(ids[4]!, 10)).toEqual([]);
  });

  it('forwards audit entries with their identity, the actor as ciphertext only', async () => {
    const { journal, sink, forwarder } = setup();
    journal.audit({
      action: 'export',
      actor: 'CORP\\jisoo.park',
      subject: '2026-12-30',
      detail: null,
    });

    await forwarder.forward();

    const [row] = sink.rows('audit');
    expect(row).toMatchObject({ agent: AGENT, action: 'export', subject: '2026-12-30' });
    expect(row!.id).toMatch(/^[0-9a-f]{32}$/);
    expect(row!.actor_enc).toBeInstanceOf(Buffer);
    expect(new FieldCipher(keys).decrypt(row!.id as string, 'user', row!.actor_enc as Buffer)).toBe(
      'CORP\\jisoo.park',
    );
  });
});

function eventRow(): Record<string, unknown> {
  return {
    id: 'a'.repeat(32),
    source: 'demo',
    natural_key: 'k',
    rev: 1,
    key_version: 1,
    type: 'logon',
    at: START,
    captured_at: START,
  };
}

it('wraps nothing it did not need to: an MssqlError from a sink keeps its code', async () => {
  const sink = new MemorySink();
  sink.failAt('open', new MssqlError('EMSSQLSCHEMA', 'the database lacks schema scripts'));
  const journal: ForwarderJournal = { lastRev: () => 0, runsAfter: () => [], changes: () => [] };
  const forwarder = new Forwarder({ journal, sink, agent: AGENT });
  await expect(forwarder.forward()).rejects.toMatchObject({
    code: 'EMSSQLSCHEMA',
    message: 'the database lacks schema scripts',
  });
});
