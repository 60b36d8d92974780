import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  fakeRunner,
  sourceContext,
  type RunnerAnswer,
} from '../../../../../tests/support/sources.ts';
import type { CommandRunner } from '../../platform/command.ts';
import type { EventRecord, SessionRecord } from '../../records.ts';
import type { SourceContext } from '../types.ts';
import { commandOptions, commandSource } from './index.ts';

const NOW = Date.UTC(2024, 5, 28, 0, 0);
const live = new AbortController().signal;

const fixture = (name: string) =>
  readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

function setup(
  answer: RunnerAnswer,
  input: Record<string, unknown>,
  overrides: Partial<SourceContext> = {},
) {
  const { run, calls } = fakeRunner(answer);
  const { context, log } = sourceContext({ id: 'horizon', now: () => NOW, run, ...overrides });
  const source = commandSource.create(commandOptions.parse(input), context);
  return { source, calls, log };
}

const HORIZON_TYPES = {
  AGENT_CONNECTED: 'logon',
  AGENT_DISCONNECTED: 'disconnect',
  AGENT_RECONNECTED: 'reconnect',
  AGENT_ENDED: 'logoff',
};

const horizonEvents = (format: 'csv' | 'ndjson', extra: Record<string, unknown> = {}) => ({
  file: 'C:\\Tools\\export-events.exe',
  args: ['--password', 'hunter2'],
  format,
  record: 'event',
  fields: {
    key: 'EventID',
    type: 'EventType',
    at: 'Time',
    user: 'UserName',
    machine: 'MachineName',
  },
  types: HORIZON_TYPES,
  ...extra,
});

const odataSessions = {
  file: 'odata-export',
  format: 'json',
  record: 'session',
  fields: {
    key: 'SessionKey',
    user: 'User.UserName',
    fullName: 'User.FullName',
    machine: 'Machine.Name',
    startAt: 'StartDate',
    endAt: 'EndDate',
    state: 'ConnectionState',
    sessionType: 'SessionType',
    logonDurationMs: 'LogOnDuration',
  },
};

const messages = (input: unknown) =>
  commandOptions.safeParse(input).error?.issues.map((i) => i.message) ?? [];

describe('commandOptions', () => {
  it('fills in the defaults', () => {
    expect(commandOptions.parse({ ...odataSessions })).toEqual({
      ...odataSessions,
      args: [],
      delimiter: ',',
      encoding: 'utf-8',
      timeoutMs: 120_000,
      values: {},
    });
  });

  it('runs on every system', () => {
    expect(commandSource.platforms).toBeUndefined();
  });

  it.each([
    ['file', { ...odataSessions, file: '' }],
    ['format', { ...odataSessions, format: 'xml' }],
    ['delimiter', { ...odataSessions, delimiter: ';;' }],
    ['record', { ...odataSessions, record: 'machine' }],
    ['fields', { ...odataSessions, fields: 'SessionKey' }],
    ['states', { ...odataSessions, states: { Active: 'Happy' } }],
    ['types', { ...horizonEvents('csv'), types: { AGENT_ENDED: 'gone' } }],
    ['encoding', { ...odataSessions, encoding: 'ebcdic-9' }],
  ])('rejects a bad %s with a message naming it', (option, input) => {
    expect(messages(input).join('; ')).toContain(option);
  });

  it('requires key and state for sessions, key, type and at for events', () => {
    expect(messages({ ...odataSessions, fields: { user: 'UserName' } })).toEqual([
      expect.stringContaining('fields must map key for session records'),
      expect.stringContaining('fields must map state for session records'),
    ]);
    expect(messages({ ...horizonEvents('csv'), fields: { key: 'EventID' } })).toEqual([
      expect.stringContaining('fields must map type'),
      expect.stringContaining('fields must map at'),
    ]);
  });

  it('accepts a fixed state or type instead of a column, but never a fixed key or date', () => {
    const fields = { key: 'SessionKey', startAt: 'StartDate' };
    expect(messages({ ...odataSessions, fields, values: { state: 'Active' } })).toEqual([]);
    expect(messages({ ...odataSessions, fields, values: { state: 'Busy' } })).toEqual([
      expect.stringContaining('values.state must be one of'),
    ]);
    expect(messages({ ...odataSessions, values: { startAt: '2024-01-01' } })).toEqual([
      expect.stringContaining('values.startAt cannot be fixed'),
    ]);
  });

  it('names a field that records of that kind do not have', () => {
    expect(messages({ ...odataSessions, fields: { ...odataSessions.fields, at: 'Time' } })).toEqual(
      [expect.stringContaining('fields.at is not a field of session records')],
    );
  });

  it('lets only key join several columns', () => {
    const fields = { ...odataSessions.fields, key: ['Host', 'SessionId'], user: ['A', 'B'] };
    expect(messages({ ...odataSessions, fields })).toEqual([
      'fields.user must name one column; only key may join several',
    ]);
  });

  it('requires the password option where args use {password}, and the other way round', () => {
    expect(messages({ ...odataSessions, args: ['-P', '{password}'] })).toEqual([
      'args use {password} but password is not set',
    ]);
    expect(messages({ ...odataSessions, password: 'hunter2' })).toEqual([
      'password is set but args never pass it as {password}',
    ]);
  });

  it('keeps states for sessions and types for events', () => {
    expect(messages({ ...odataSessions, types: HORIZON_TYPES })).toEqual([
      'types applies to event records only',
    ]);
  });

  it('requires a {since} placeholder with incremental, and incremental with a placeholder', () => {
    expect(messages(horizonEvents('csv', { incremental: { field: 'at' } }))).toEqual([
      expect.stringContaining('args must pass the cursor as {since}'),
    ]);
    expect(messages(horizonEvents('csv', { args: ['{since}'] }))).toEqual([
      expect.stringContaining('only when incremental is set'),
    ]);
    expect(
      messages(horizonEvents('csv', { args: ['{since}'], incremental: { field: 'startAt' } })),
    ).toEqual([expect.stringContaining('incremental.field must be a date field of event records')]);
  });
});

describe('command source', () => {
  it('reads JSON { value: [...] } with nested columns, Monitor state numbers and ISO dates', async () => {
    const { source, calls } = setup({ stdout: fixture('sessions-odata.json') }, odataSessions);
    const result = await source.capture(null, live);
    const [minjun, james] = result.records as SessionRecord[];

    expect(calls).toEqual([
      { file: 'odata-export', args: [], options: expect.objectContaining({ encoding: 'latin1' }) },
    ]);
    expect(result.cursor).toBeNull();
    expect(minjun).toEqual({
      kind: 'session',
      key: '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
      user: 'minjun.kim',
      domain: 'CORP',
      fullName: '김민준',
      machine: 'CORP\\VDA-OD-001',
      deliveryGroup: null,
      clientName: null,
      clientAddress: null,
      clientVersion: null,
      protocol: null,
      sessionType: 'desktop',
      startAt: Date.UTC(2024, 5, 27, 0, 5, 12, 123),
      endAt: null,
      logonDurationMs: 23850,
      state: 'Active',
      stateChangedAt: null,
      failureCode: null,
      failureReason: null,
    });
    expect(james).toMatchObject({
      user: 'james.miller',
      domain: null,
      state: 'Terminated',
      sessionType: 'application',
      endAt: Date.UTC(2024, 5, 27, 9, 1),
    });
  });

  it('reads a JSON array with epoch-ms dates, a states map and a key of several columns', async () => {
    const { source } = setup(
      { stdout: fixture('sessions-array.json') },
      {
        file: 'sessions.cmd',
        format: 'json',
        record: 'session',
        fields: {
          key: ['host', 'sessionId', 'logon'],
          user: 'account',
          machine: 'host',
          startAt: 'logon',
          state: 'state',
        },
        states: { Active: 'Active', Disc: 'Disconnected' },
      },
    );
    const records = (await source.capture(null, live)).records as SessionRecord[];

    expect(records.map((r) => [r.key, r.state, r.startAt])).toEqual([
      ['vda01|3|1719446712123', 'Active', 1719446712123],
      ['vda01|4|1719444600000', 'Disconnected', 1719444600000],
    ]);
  });

  it('reads a single JSON object as one row', async () => {
    const one = JSON.stringify(JSON.parse(fixture('sessions-array.json'))[0]);
    const { source } = setup(
      { stdout: one },
      { file: 'x', format: 'json', record: 'session', fields: { key: 'id', state: 'state' } },
    );
    expect((await source.capture(null, live)).records).toHaveLength(1);
  });

  it('reads CSV with quoted fields and naive dates in the time zone, skipping unmapped types', async () => {
    const { source } = setup({ stdout: fixture('horizon-events.csv') }, horizonEvents('csv'));
    const result = await source.capture(null, live);
    const events = result.records as EventRecord[];

    expect(events.map((e) => [e.key, e.type, e.at, e.user, e.domain, e.machine])).toEqual([
      ['5001', 'logon', Date.UTC(2024, 5, 27, 0, 5, 12, 123), 'minjun.kim', 'CORP', 'VDA-OD-001'],
      ['5002', 'disconnect', Date.UTC(2024, 5, 27, 3), 'minjun.kim', 'CORP', 'VDA-OD-001'],
      ['5003', 'reconnect', Date.UTC(2024, 5, 27, 4), 'minjun.kim', 'CORP', 'VDA-OD-001'],
      ['5006', 'logoff', Date.UTC(2024, 5, 27, 9, 32), 'minjun.kim', 'CORP', 'VDA-OD-001'],
    ]);
    expect(result.rejected).toEqual([
      {
        code: 'EBADRECORD',
        message: 'source horizon: export-events.exe, line 6 has 5 fields where the header has 7',
      },
    ]);
    expect(JSON.stringify(result.rejected)).not.toContain('secret.person');
  });

  it('reads NDJSON, rejecting bad lines by number without their content', async () => {
    const { source } = setup({ stdout: fixture('horizon-events.ndjson') }, horizonEvents('ndjson'));
    const result = await source.capture(null, live);

    expect((result.records as EventRecord[]).map((e) => e.key)).toEqual(['5001', '5002', '5006']);
    expect(result.rejected).toEqual([
      { code: 'EBADRECORD', message: 'source horizon: export-events.exe, line 4 is not JSON' },
      {
        code: 'EBADRECORD',
        message: 'source horizon: export-events.exe, line 5 field at (column Time) is not a date',
      },
    ]);
    expect(JSON.stringify(result.rejected)).not.toMatch(/secret\.person|hidden\.user|25:00/);
  });

  it('fills the placeholders from the cursor, less the overlap', async () => {
    const { source, calls } = setup(
      { stdout: '' },
      horizonEvents('csv', {
        args: [
          '--since',
          '{since}',
          '--from-ms={sinceMs}',
          '{sinceLocal}',
          '{until}',
          '{untilLocal}',
        ],
        incremental: { field: 'at', overlapMinutes: 5 },
      }),
    );
    const result = await source.capture(String(Date.UTC(2024, 5, 27, 3)), live);

    expect(calls[0]?.args).toEqual([
      '--since',
      '2024-06-27T02:55:00.000Z',
      `--from-ms=${Date.UTC(2024, 5, 27, 2, 55)}`,
      '2024-06-27 11:55:00.000',
      '2024-06-28T00:00:00.000Z',
      '2024-06-28 09:00:00.000',
    ]);
    expect(result).toEqual({ records: [], cursor: String(Date.UTC(2024, 5, 27, 3)) });
  });

  it('looks back backfillHours on the first capture', async () => {
    const { source, calls } = setup(
      { stdout: '' },
      horizonEvents('csv', {
        args: ['{sinceMs}'],
        incremental: { field: 'at', backfillHours: 48 },
      }),
    );
    const result = await source.capture(null, live);

    expect(calls[0]?.args).toEqual([String(NOW - 48 * 3_600_000)]);
    expect(result.cursor).toBe(String(NOW - 48 * 3_600_000));
  });

  it('moves the cursor to the newest record, but not past a rejected row', async () => {
    const input = horizonEvents('ndjson', { args: ['{since}'], incremental: { field: 'at' } });
    const clean = fixture('horizon-events.ndjson')
      .split('\r\n')
      .filter((_, i) => i !== 3 && i !== 4);

    const good = setup({ stdout: clean.join('\n') }, input);
    const moved = await good.source.capture(String(Date.UTC(2024, 5, 26)), live);
    expect(moved.cursor).toBe(String(Date.UTC(2024, 5, 27, 9, 30)));

    const bad = setup({ stdout: fixture('horizon-events.ndjson') }, input);
    const held = await bad.source.capture(String(Date.UTC(2024, 5, 26)), live);
    expect(held.records).toHaveLength(3);
    expect(held.cursor).toBe(String(Date.UTC(2024, 5, 26)));
  });

  it('stops the cursor just before a rejected row whose date it could read', async () => {
    const input = horizonEvents('ndjson', { args: ['{since}'], incremental: { field: 'at' } });
    const lines = fixture('horizon-events.ndjson')
      .split('\r\n')
      .filter((_, i) => i !== 3 && i !== 4)
      .map((l) => l.replace('"EventID":5002', '"EventID":{"bad":true}'));
    const { source } = setup({ stdout: lines.join('\n') }, input);
    const result = await source.capture(String(Date.UTC(2024, 5, 26)), live);

    expect(result.rejected).toMatchObject([{ message: expect.stringContaining('field key') }]);
    expect(result.cursor).toBe(String(Date.UTC(2024, 5, 27, 3) - 1));
  });

  it('asks an incremental command for a time window, without a cursor', async () => {
    const { source, calls } = setup(
      { stdout: '' },
      horizonEvents('csv', { args: ['{sinceMs}', '{untilMs}'], incremental: { field: 'at' } }),
    );
    const result = await source.capture('123', live, { since: 1000, until: 2000 });

    expect(calls[0]?.args).toEqual(['1000', '2000']);
    expect(result.cursor).toBeNull();
  });

  it('cannot capture a time window when it is not incremental', async () => {
    const { source } = setup({ stdout: '' }, odataSessions);
    await expect(source.capture(null, live, { since: 0, until: 1 })).rejects.toMatchObject({
      code: 'EWINDOW',
    });
  });

  it('fails with ECOMMAND naming the program but not its arguments', async () => {
    const { source } = setup(
      { exitCode: 2, stderr: 'Login failed.\r\nsecond line' },
      horizonEvents('csv'),
    );
    const failure = source.capture(null, live);
    await expect(failure).rejects.toMatchObject({
      code: 'ECOMMAND',
      message: 'source horizon: export-events.exe exited with code 2: Login failed.',
    });
    await expect(failure).rejects.not.toThrow(/hunter2/);
  });

  it('fails with EBADRESPONSE when JSON output is not JSON, without repeating it', async () => {
    const { source } = setup({ stdout: '<html>CORP\\minjun.kim</html>' }, odataSessions);
    const failure = source.capture(null, live);
    await expect(failure).rejects.toMatchObject({ code: 'EBADRESPONSE' });
    await expect(failure).rejects.not.toThrow(/minjun/);
  });

  it('records an unknown state as Unknown and warns once', async () => {
    const text = fixture('sessions-odata.json').replace(
      '"ConnectionState": 5',
      '"ConnectionState": "Napping"',
    );
    const { source, log } = setup({ stdout: text }, odataSessions);
    const [first] = (await source.capture(null, live)).records as SessionRecord[];
    await source.capture(null, live);

    expect(first?.state).toBe('Unknown');
    expect(log.entries.filter((e) => e.level === 'warn')).toHaveLength(1);
  });

  it('gives the same keys on every capture', async () => {
    const { source } = setup({ stdout: fixture('horizon-events.csv') }, horizonEvents('csv'));
    const once = (await source.capture(null, live)).records.map((r) => r.key);
    const again = (await source.capture(null, live)).records.map((r) => r.key);
    expect(again).toEqual(once);
  });

  it('passes the password option where args say {password}, and never shows it', async () => {
    const { source, calls } = setup(
      { exitCode: 1, stderr: 'Login failed for user sa.' },
      {
        ...odataSessions,
        file: 'sqlcmd.exe',
        args: ['-U', 'sa', '-P', '{password}', '-Q', 'SELECT 1'],
        password: 'hunter2',
      },
    );
    const failure = source.capture(null, live);

    await expect(failure).rejects.toMatchObject({ code: 'ECOMMAND' });
    await expect(failure).rejects.not.toThrow(/hunter2/);
    expect(calls[0]?.args).toEqual(['-U', 'sa', '-P', 'hunter2', '-Q', 'SELECT 1']);
  });

  describe('test', () => {
    it('reports OK with a count and a masked sample', async () => {
      const { source } = setup({ stdout: fixture('sessions-odata.json') }, odataSessions);
      const diagnosis = await source.test?.(live);

      expect(diagnosis).toMatchObject({ ok: true, code: 'OK', count: 2 });
      expect(diagnosis?.sample).toMatchObject({ user: '***', fullName: '***', domain: 'CORP' });
      expect(JSON.stringify(diagnosis)).not.toMatch(/minjun|김민준/);
    });

    it('reports ENODATA when the command prints no rows', async () => {
      const { source } = setup({ stdout: '[]' }, odataSessions);
      expect(await source.test?.(live)).toMatchObject({ ok: true, code: 'ENODATA', count: 0 });
    });

    it('reports a program that cannot start, without throwing', async () => {
      const run: CommandRunner = async () => {
        throw Object.assign(new Error('spawn odata-export ENOENT'), { code: 'ENOENT' });
      };
      const { source } = setup({}, odataSessions, { run });
      expect(await source.test?.(live)).toMatchObject({ ok: false, code: 'ECOMMAND' });
    });
  });
});
