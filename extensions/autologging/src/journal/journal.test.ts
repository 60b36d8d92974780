import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { event, hostSample, session } from '../../../../tests/support/records.ts';
import { tempDir } from '../../../../tests/support/temp.ts';
import { FieldCipher } from '../crypto/field-cipher.ts';
import { openKeyring } from '../crypto/keyring.ts';
import { Journal, recordId } from './journal.ts';

function openJournal(home = tempDir()) {
  const cipher = new FieldCipher(openKeyring({ home }));
  return { journal: Journal.open(path.join(home, 'journal.db'), cipher), cipher, home };
}

const DAY = { start: Date.UTC(2026, 11, 3), end: Date.UTC(2026, 11, 4) };

describe('journal', () => {
  it('stores a capture once: the same records again add nothing and change no row', () => {
    const { journal } = openJournal();
    const records = [session(), event(), hostSample()];

    expect(journal.applyCapture('demo', records, '1')).toEqual({ in: 3, new: 3, updated: 0 });
    expect(journal.applyCapture('demo', records, '2')).toEqual({ in: 3, new: 0, updated: 0 });
    expect(journal.stats()).toMatchObject({ sessions: 1, events: 1, hostLoad: 1 });
    expect(journal.cursor('demo')).toBe('2');
  });

  it('updates a session in place as it progresses, keeping its identity', () => {
    const { journal } = openJournal();
    journal.applyCapture('demo', [session()], null);
    const end = Date.UTC(2026, 11, 3, 9, 30);
    const result = journal.applyCapture(
      'demo',
      [session({ endAt: end, state: 'Terminated', stateChangedAt: end })],
      null,
    );

    expect(result).toEqual({ in: 1, new: 0, updated: 1 });
    const rows = [...journal.sessions(DAY, 'plain')];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ endAt: end, state: 'Terminated', user: 'minjun.kim' });
    expect(rows[0]!.id).toBe(recordId('demo', 'session', session().key));
  });

  it('ignores a session observation older than the one it holds', () => {
    const { journal } = openJournal();
    const end = Date.UTC(2026, 11, 3, 9, 30);
    journal.applyCapture(
      'demo',
      [session({ endAt: end, state: 'Terminated', stateChangedAt: end })],
      null,
    );
    const stale = journal.applyCapture('demo', [session()], null);

    expect(stale).toEqual({ in: 1, new: 0, updated: 0 });
    expect([...journal.sessions(DAY)][0]).toMatchObject({ state: 'Terminated', endAt: end });
  });

  it('keeps records of different sources apart even with the same natural key', () => {
    const { journal } = openJournal();
    journal.applyCapture('site-a', [session()], null);
    journal.applyCapture('site-b', [session()], null);
    expect(journal.stats().sessions).toBe(2);
  });

  it('rolls the whole capture back when one record cannot be stored', () => {
    const { journal } = openJournal();
    const broken = { ...event({ key: 'x' }), type: null } as unknown as ReturnType<typeof event>;
    expect(() => journal.applyCapture('demo', [session(), broken], '9')).toThrow(
      expect.objectContaining({ code: 'EJOURNALWRITE' }),
    );
    expect(journal.stats()).toMatchObject({ sessions: 0, events: 0 });
    expect(journal.cursor('demo')).toBeNull();
  });

  it('shows pseudonyms by default and plain values only when asked', () => {
    const { journal, cipher } = openJournal();
    journal.applyCapture('demo', [session(), event()], null);
    const [row] = [...journal.sessions(DAY)];
    expect(row!.user).toBe(cipher.pseudonym('user', cipher.blindIndex('user', 'minjun.kim')));
    expect(row!.fullName).toMatch(/^N-[0-9A-F]{8}$/);
    expect(row!.clientName).toMatch(/^C-/);
    expect(row!.clientAddress).toMatch(/^A-/);
    const [plain] = [...journal.events(DAY, 'plain')];
    expect(plain).toMatchObject({ user: 'minjun.kim', clientAddress: '10.20.31.44' });
  });

  it('lists the sessions that overlap a day: ended inside, spanning midnight, and still open', () => {
    const { journal } = openJournal();
    const at = (d: number, h: number) => Date.UTC(2026, 11, d, h);
    journal.applyCapture(
      'demo',
      [
        session({ key: 'yesterday', startAt: at(2, 1), endAt: at(2, 9), state: 'Terminated' }),
        session({ key: 'overnight', startAt: at(2, 20), endAt: at(3, 2), state: 'Terminated' }),
        session({ key: 'today', startAt: at(3, 1), endAt: at(3, 9), state: 'Terminated' }),
        session({ key: 'open-since-monday', startAt: Date.UTC(2026, 10, 30, 8), endAt: null }),
        session({ key: 'tomorrow', startAt: at(4, 1), endAt: null }),
        session({
          key: 'week-long',
          startAt: Date.UTC(2026, 10, 25),
          endAt: at(3, 5),
          state: 'Terminated',
        }),
      ],
      null,
    );
    const keys = [...journal.sessions(DAY)].map((s) => s.key).sort();
    expect(keys).toEqual(['open-since-monday', 'overnight', 'today', 'week-long']);
  });

  it('writes no personal value in plain text to the database or its WAL', () => {
    const { journal, home } = openJournal();
    journal.applyCapture('demo', [session(), event()], null);
    const bytes = Buffer.concat(
      ['journal.db', 'journal.db-wal']
        .map((f) => path.join(home, f))
        .filter((f) => fs.existsSync(f))
        .map((f) => fs.readFileSync(f)),
    );
    for (const value of ['minjun.kim', '김민준', 'KR-LT-04821', '10.20.31.44']) {
      expect(bytes.includes(Buffer.from(value, 'utf8'))).toBe(false);
      expect(bytes.includes(Buffer.from(value, 'utf16le'))).toBe(false);
    }
    expect(bytes.includes(Buffer.from('CORP\\VDA-OFF-001'))).toBe(true);
  });

  it('records runs and marks the runs of a dead process as interrupted', () => {
    const { journal } = openJournal();
    const ok = journal.startRun('capture:demo', 'capture', 'demo', 'manual');
    journal.finishRun(ok, { outcome: 'ok', recordsIn: 3, recordsNew: 2 });
    journal.startRun('export', 'export', null, 'schedule');

    expect(journal.interruptStaleRuns(() => false)).toBe(1);
    const runs = journal.lastRuns();
    expect(runs.map((r) => [r.job, r.outcome, r.errorCode])).toEqual([
      ['capture:demo', 'ok', null],
      ['export', 'interrupted', 'EINTERRUPTED'],
    ]);
    expect(runs[0]).toMatchObject({ recordsIn: 3, recordsNew: 2, trigger: 'manual' });
  });

  it('opens without keys for counts and runs, and refuses to touch records', () => {
    const { journal, home } = openJournal();
    journal.applyCapture('demo', [session()], null);
    journal.close();
    const sealed = Journal.open(path.join(home, 'journal.db'), null);
    expect(sealed.stats().sessions).toBe(1);
    expect(() => [...sealed.sessions(DAY)]).toThrow(expect.objectContaining({ code: 'ENOKEYS' }));
    sealed.close();
  });

  it('refuses a journal written by a newer version', () => {
    const { journal, home, cipher } = openJournal();
    journal.close();
    const db = new DatabaseSync(path.join(home, 'journal.db'));
    db.exec(`UPDATE meta SET value = '99' WHERE key = 'schema_version'`);
    db.close();
    expect(() => Journal.open(path.join(home, 'journal.db'), cipher)).toThrow(
      expect.objectContaining({ code: 'EJOURNALVERSION' }),
    );
  });

  it('says EJOURNALOPEN for a file that is not a database', () => {
    const home = tempDir();
    const file = path.join(home, 'journal.db');
    fs.writeFileSync(file, 'this is not sqlite '.repeat(100));
    expect(() => Journal.open(file, null)).toThrow(
      expect.objectContaining({ code: 'EJOURNALOPEN' }),
    );
  });
});

describe('journal changes', () => {
  it('lists each changed record once, at its latest revision, in revision order', () => {
    const { journal } = openJournal();
    journal.applyCapture('demo', [session(), event()], null);
    const end = Date.UTC(2026, 11, 3, 9);
    journal.applyCapture(
      'demo',
      [session({ endAt: end, state: 'Terminated', stateChangedAt: end }), hostSample()],
      null,
    );

    const all = journal.changes(0, 100);
    expect(all.map((c) => [c.table, c.rev])).toEqual([
      ['events', 2],
      ['sessions', 3],
      ['host_load', 4],
    ]);
    expect(journal.lastRev()).toBe(4);
    expect(journal.changes(2, 1).map((c) => c.rev)).toEqual([3]);
    expect(all[1]!.row.user_enc).toBeInstanceOf(Uint8Array);
    expect(all[1]!.row.end_at).toBe(end);
  });
});

describe('journal runsAfter', () => {
  it('lists finished runs by id, page by page, and stops before one still running', () => {
    const { journal } = openJournal();
    const ids = ['a', 'b', 'c', 'd', 'e'].map((job) =>
      journal.startRun(job, 'capture', null, 'schedule'),
    );
    for (const id of [ids[0], ids[1], ids[3], ids[4]]) journal.finishRun(id!, { outcome: 'ok' });

    expect(journal.runsAfter(0, 1).map((r) => r.job)).toEqual(['a']);
    expect(journal.runsAfter(ids[0]!, 10).map((r) => r.job)).toEqual(['b']);
    expect(journal.runsAfter(ids[1]!, 10)).toEqual([]);

    journal.interruptStaleRuns(() => false);
    expect(journal.runsAfter(ids[1]!, 2).map((r) => [r.job, r.outcome])).toEqual([
      ['c', 'interrupted'],
      ['d', 'ok'],
    ]);
    expect(journal.runsAfter(ids[3]!, 2).map((r) => r.job)).toEqual(['e']);
  });
});

describe('journal audit', () => {
  it('stores the actor only encrypted, and hands entries to sinks in revision order', () => {
    const { journal, cipher, home } = openJournal();
    journal.applyCapture('demo', [event()], null);
    journal.audit({
      action: 'decrypt',
      actor: 'CORP\\seo.yeon',
      subject: '2026-12-03',
      detail: 'x',
    });
    journal.audit({ action: 'settings', actor: null, subject: 'schedule', detail: null });

    const bytes = Buffer.concat(
      ['journal.db', 'journal.db-wal']
        .map((f) => path.join(home, f))
        .filter((f) => fs.existsSync(f))
        .map((f) => fs.readFileSync(f)),
    );
    for (const value of ['seo.yeon', 'CORP\\seo.yeon']) {
      expect(bytes.includes(Buffer.from(value, 'utf8'))).toBe(false);
      expect(bytes.includes(Buffer.from(value, 'utf16le'))).toBe(false);
    }

    const audit = journal.changes(1, 10);
    expect(audit.map((c) => [c.table, c.rev, c.row.action])).toEqual([
      ['audit', 2, 'decrypt'],
      ['audit', 3, 'settings'],
    ]);
    const [decrypt, settings] = audit.map((c) => c.row);
    expect(decrypt!.id).toMatch(/^[0-9a-f]{32}$/);
    expect(decrypt!.id).not.toBe(settings!.id);
    expect(decrypt!.actor_idx).toBe(cipher.blindIndex('user', 'CORP\\seo.yeon'));
    expect(cipher.decrypt(decrypt!.id as string, 'user', decrypt!.actor_enc as Uint8Array)).toBe(
      'CORP\\seo.yeon',
    );
    expect(settings).toMatchObject({ actor_enc: null, actor_idx: null, subject: 'schedule' });
    expect(journal.lastRev()).toBe(3);
  });
});
