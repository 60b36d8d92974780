import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AbortedError, SourceError } from '../../errors.ts';
import { parseJsonc } from '../../jsonc.ts';
import { memoryLogger } from '../../log/logger.ts';
import type { CaptureRecord, EventRecord, SessionRecord } from '../../records.ts';
import type { SourceContext } from '../types.ts';
import { DemoSite } from './generator.ts';
import { demoOptionsSchema, demoSource, type DemoOptions } from './index.ts';

const HOUR = 3_600_000;
const NOW = Date.parse('2024-06-05T06:32:10.123Z'); // a Wednesday, 15:32 in Seoul

function context(overrides: Partial<SourceContext> = {}): SourceContext {
  return {
    id: 'demo-site',
    log: memoryLogger(),
    timeZone: 'Asia/Seoul',
    now: () => NOW,
    run: async () => {
      throw new Error('the demo source runs no commands');
    },
    platform: 'linux',
    ...overrides,
  };
}

function options(input: Record<string, unknown> = {}): DemoOptions {
  return demoOptionsSchema.parse(input);
}

const live = new AbortController().signal;

function split(records: CaptureRecord[]) {
  return {
    sessions: records.filter((r): r is SessionRecord => r.kind === 'session'),
    events: records.filter((r): r is EventRecord => r.kind === 'event'),
  };
}

describe('demo options', () => {
  it('accepts the annotated example in example.jsonc', () => {
    const text = readFileSync(new URL('./example.jsonc', import.meta.url), 'utf8');
    const entry = parseJsonc(text) as Record<string, unknown>;

    expect(entry).toMatchObject({
      id: 'demo',
      kind: demoSource.kind,
      enabled: true,
      schedule: { cron: demoSource.defaultSchedule },
    });
    const parsed = demoOptionsSchema.safeParse(entry.options);
    expect(parsed.error?.issues).toBeUndefined();
    expect(parsed.data).toEqual({ ...options(), timeZone: 'Asia/Seoul' });
  });

  it('fills in every default from an empty object', () => {
    expect(demoOptionsSchema.parse({})).toEqual({
      seed: 1,
      users: 40,
      machines: 12,
      deliveryGroups: ['Office Desktop', 'Developer Desktop', 'Call Center Apps'],
      domain: 'CORP',
      backfillHours: 24,
      failureRate: 0.03,
      rdpShare: 0.1,
    });
  });

  it('does not share the default group list between parses', () => {
    const first = demoOptionsSchema.parse({});
    first.deliveryGroups.push('Changed');
    expect(demoOptionsSchema.parse({}).deliveryGroups).toHaveLength(3);
  });

  it('rejects an unknown key', () => {
    const result = demoOptionsSchema.safeParse({ user: 10 });
    expect(result.error?.issues).toMatchObject([{ code: 'unrecognized_keys', keys: ['user'] }]);
  });

  it.each([
    [{ seed: 1.5 }, 'seed', /whole number/],
    [{ seed: '1' }, 'seed', /whole number/],
    [{ users: 0 }, 'users', /at least 1/],
    [{ users: 100_001 }, 'users', /at most 100000/],
    [{ users: 2.5 }, 'users', /whole number/],
    [{ machines: 10_001 }, 'machines', /at most 10000/],
    [{ machines: 2 }, 'machines', /at least the number of deliveryGroups \(3\)/],
    [{ deliveryGroups: [] }, 'deliveryGroups', /at least one group/],
    [{ deliveryGroups: 'Office' }, 'deliveryGroups', /list of names/],
    [{ deliveryGroups: ['Office', ' '] }, 'deliveryGroups.1', /must not be empty/],
    [{ deliveryGroups: ['A', 'A'] }, 'deliveryGroups', /must not repeat/],
    [{ domain: 'CORP\\X' }, 'domain', /NetBIOS/],
    [{ domain: 'A-VERY-LONG-DOMAIN' }, 'domain', /1-15/],
    [{ backfillHours: -1 }, 'backfillHours', /at least 0/],
    [{ backfillHours: 26_305 }, 'backfillHours', /at most 26304/],
    [{ failureRate: 1.5 }, 'failureRate', /at most 1/],
    [{ rdpShare: -0.1 }, 'rdpShare', /at least 0/],
    [{ rdpShare: null }, 'rdpShare', /number from 0 to 1/],
    [{ timeZone: 'Mars/Olympus' }, 'timeZone', /"Mars\/Olympus" is not a known IANA time zone/],
  ])('rejects %j, naming %s', (input, path, message) => {
    const result = demoOptionsSchema.safeParse(input);
    expect(result.success).toBe(false);
    const issue = result.error?.issues[0];
    expect(issue?.path.join('.')).toBe(path);
    expect(issue?.message).toMatch(message);
  });

  it('accepts the edges of every range', () => {
    const edges = {
      seed: -9_007_199_254_740_991,
      users: 100_000,
      machines: 1,
      deliveryGroups: ['Only'],
      backfillHours: 26_304,
      failureRate: 1,
      rdpShare: 0,
    };
    expect(demoOptionsSchema.safeParse(edges).success).toBe(true);
  });
});

describe('demoSource', () => {
  it('registers as kind demo, every five minutes by default', () => {
    expect(demoSource.kind).toBe('demo');
    expect(demoSource.defaultSchedule).toBe('*/5 * * * *');
    expect(demoSource.description.length).toBeGreaterThan(0);
  });

  it('opens and closes without doing anything', async () => {
    const source = demoSource.create(options(), context());
    await expect(source.open(live)).resolves.toBeUndefined();
    await expect(source.close()).resolves.toBeUndefined();
  });

  it('looks back backfillHours on the first capture and resumes at now', async () => {
    const source = demoSource.create(options({ backfillHours: 48 }), context());
    const { records, cursor } = await source.capture(null, live);
    const { sessions, events } = split(records);

    expect(cursor).toBe(String(NOW));
    expect(events.length).toBeGreaterThan(50);
    for (const e of events) {
      expect(e.at).toBeGreaterThan(NOW - 48 * HOUR);
      expect(e.at).toBeLessThanOrEqual(NOW);
    }
    expect(Math.min(...events.map((e) => e.at))).toBeLessThan(NOW - 24 * HOUR);
    expect(sessions.length).toBeGreaterThan(0);
  });

  it('returns sessions first, then events', async () => {
    const { records } = await demoSource.create(options(), context()).capture(null, live);
    const firstEvent = records.findIndex((r) => r.kind === 'event');
    const lastSession = records.findLastIndex((r) => r.kind === 'session');
    expect(firstEvent).toBeGreaterThan(0);
    expect(lastSession).toBeLessThan(firstEvent);
  });

  it('returns the same records as the generator for the site in the agent’s zone', async () => {
    const opts = options({ backfillHours: 72, users: 30 });
    const { records } = await demoSource
      .create(opts, context({ timeZone: 'America/New_York' }))
      .capture(null, live);
    const expected = new DemoSite(opts, 'America/New_York').between(NOW - 72 * HOUR, NOW);

    expect(split(records)).toEqual(expected);
  });

  it('prefers its own timeZone option to the agent’s zone', async () => {
    const opts = options({ timeZone: 'Europe/London' });
    const { records } = await demoSource.create(opts, context()).capture(null, live);
    expect(split(records)).toEqual(
      new DemoSite(opts, 'Europe/London').between(NOW - 24 * HOUR, NOW),
    );
  });

  it('captures after the cursor only, so successive captures add up to one long one', async () => {
    let now = NOW - 30 * HOUR;
    const ctx = context({ now: () => now });
    const source = demoSource.create(options({ backfillHours: 24, users: 60 }), ctx);

    const first = await source.capture(null, live);
    now += 6 * HOUR + 17_000;
    const second = await source.capture(first.cursor, live);
    now += 30 * HOUR;
    const third = await source.capture(second.cursor, live);
    const whole = new DemoSite(options({ users: 60 }), 'Asia/Seoul').between(NOW - 54 * HOUR, now);

    expect(second.cursor).toBe(String(NOW - 24 * HOUR + 17_000));
    const events = [first, second, third].flatMap((c) => split(c.records).events);
    expect(events).toEqual(whole.events);
    const sessions = new Map<string, SessionRecord>();
    for (const c of [first, second, third]) {
      for (const s of split(c.records).sessions) sessions.set(s.key, s);
    }
    expect(sessions).toEqual(new Map(whole.sessions.map((s) => [s.key, s])));
  });

  it('returns nothing and keeps its place when the cursor is not in the past', async () => {
    const source = demoSource.create(options(), context());
    const ahead = String(NOW + HOUR);
    await expect(source.capture(ahead, live)).resolves.toEqual({ records: [], cursor: ahead });
    await expect(source.capture(String(NOW), live)).resolves.toEqual({
      records: [],
      cursor: String(NOW),
    });
  });

  it.each(['', 'abc', '-5', '1.5', '1e12', ' 1717', '99999999999999999999'])(
    'rejects the malformed cursor %j with ECURSOR naming the source',
    async (cursor) => {
      const source = demoSource.create(options(), context());
      const error = await source.capture(cursor, live).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SourceError);
      expect(error).toMatchObject({ code: 'ECURSOR', source: 'demo-site' });
      expect((error as Error).message).toContain('demo-site');
    },
  );

  it('refuses to capture once the signal has fired', async () => {
    const controller = new AbortController();
    controller.abort();
    const source = demoSource.create(options(), context());
    const error = await source.capture(null, controller.signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect(error).toMatchObject({ code: 'EABORTED' });
  });

  it('stops a long backfill when the signal fires', async () => {
    const controller = new AbortController();
    const source = demoSource.create(options({ backfillHours: 26_304, users: 200 }), context());
    const capture = source.capture(null, controller.signal);
    controller.abort();
    await expect(capture).rejects.toMatchObject({ code: 'EABORTED' });
  });
});
