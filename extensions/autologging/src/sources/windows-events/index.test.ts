import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  fakeRunner,
  sourceContext,
  type RunnerAnswer,
} from '../../../../../tests/support/sources.ts';
import type { EventRecord } from '../../records.ts';
import type { SourceContext } from '../types.ts';
import { LSM_LOG } from './events.ts';
import { windowsEventsOptions, windowsEventsSource } from './index.ts';

const live = new AbortController().signal;
const LSM_IDS =
  '(EventID=21 or EventID=23 or EventID=24 or EventID=25 or EventID=39 or EventID=40)';
const SECURITY_IDS =
  '(EventID=4624 or EventID=4634 or EventID=4647 or EventID=4778 or EventID=4779)';

const fixture = (name: string) =>
  readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

type Answer = RunnerAnswer;

/** A runner that answers each call with the next answer for its log, and records the calls. */
function scriptedRunner(answers: Record<string, Answer[]>) {
  return fakeRunner((call) => answers[call.args[1] ?? '']?.shift() ?? {});
}

function setup(
  answers: Record<string, Answer[]>,
  input: Record<string, unknown> = {},
  overrides: Partial<SourceContext> = {},
) {
  const { run, calls } = scriptedRunner(answers);
  const { context, log } = sourceContext({
    id: 'vda01-events',
    run,
    platform: 'win32',
    ...overrides,
  });
  const source = windowsEventsSource.create(windowsEventsOptions.parse(input), context);
  return { source, calls, log };
}

const events = (records: unknown[]) => records as EventRecord[];

describe('windowsEventsOptions', () => {
  it('fills in the defaults', () => {
    expect(windowsEventsOptions.parse({})).toEqual({
      security: false,
      batchSize: 1000,
      encoding: 'utf-8',
      timeoutMs: 120_000,
    });
  });

  it.each([
    ['server', { server: 'vda01 /f:text' }],
    ['security', { security: 'yes' }],
    ['batchSize', { batchSize: 0 }],
    ['batchSize', { batchSize: 2.5 }],
    ['backfillHours', { backfillHours: -1 }],
    ['encoding', { encoding: 'klingon' }],
  ])('rejects a bad %s with a message naming it', (option, input) => {
    const result = windowsEventsOptions.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join('; ')).toContain(option);
  });
});

describe('windows-events source', () => {
  it('declares that it needs Windows', () => {
    expect(windowsEventsSource.platforms).toEqual(['win32']);
  });

  it('reads the whole log on the first capture, oldest first, in batches', async () => {
    const { source, calls } = setup({ [LSM_LOG]: [{ stdout: fixture('wevtutil-lsm.xml') }] });
    const result = await source.capture(null, live);

    expect(calls).toEqual([
      {
        file: 'wevtutil.exe',
        args: ['qe', LSM_LOG, `/q:*[System[${LSM_IDS} and EventRecordID>0]]`, '/c:1000', '/f:xml'],
        options: expect.objectContaining({ encoding: 'latin1' }),
      },
    ]);
    expect(events(result.records)).toHaveLength(7);
    expect(JSON.parse(result.cursor ?? '')).toEqual({ lsm: 1007 });
    expect(result.more).toBe(false);
    expect(result.rejected).toBeUndefined();
  });

  it('resumes after the EventRecordID in the cursor, on a remote host when asked', async () => {
    const { source, calls } = setup(
      { [LSM_LOG]: [{ stdout: fixture('wevtutil-lsm.xml') }] },
      { server: 'vda01', batchSize: 50 },
    );
    await source.capture(JSON.stringify({ lsm: 1000 }), live);

    expect(calls[0]?.args).toEqual([
      'qe',
      LSM_LOG,
      `/q:*[System[${LSM_IDS} and EventRecordID>1000]]`,
      '/c:50',
      '/f:xml',
      '/r:vda01',
    ]);
  });

  it('looks back only backfillHours on the first capture', async () => {
    const { source, calls } = setup({ [LSM_LOG]: [{}] }, { backfillHours: 24 });
    await source.capture(null, live);

    expect(calls[0]?.args[2]).toBe(
      `/q:*[System[${LSM_IDS} and EventRecordID>0 and TimeCreated[timediff(@SystemTime)<=86400000]]]`,
    );
  });

  it('asks for more when a batch was full', async () => {
    const { source } = setup(
      { [LSM_LOG]: [{ stdout: fixture('wevtutil-lsm.xml') }] },
      { batchSize: 7 },
    );
    const result = await source.capture(null, live);
    expect(result).toMatchObject({ more: true, cursor: JSON.stringify({ lsm: 1007 }) });
  });

  it('reads the Security log too when asked, keeping a cursor per log', async () => {
    const { source, calls } = setup(
      {
        [LSM_LOG]: [{ stdout: fixture('wevtutil-lsm.xml') }],
        Security: [{ stdout: fixture('wevtutil-security.xml') }],
      },
      { security: true },
    );
    const result = await source.capture(JSON.stringify({ lsm: 900, security: 58000 }), live);

    expect(calls.map((c) => c.args[2])).toEqual([
      `/q:*[System[${LSM_IDS} and EventRecordID>900]]`,
      `/q:*[System[${SECURITY_IDS} and EventRecordID>58000]]`,
    ]);
    expect(events(result.records)).toHaveLength(7 + 5);
    expect(JSON.parse(result.cursor ?? '')).toEqual({ lsm: 1007, security: 58007 });
  });

  it('keeps the position of a log it no longer reads', async () => {
    const { source } = setup({ [LSM_LOG]: [{ stdout: fixture('wevtutil-lsm.xml') }] });
    const result = await source.capture(JSON.stringify({ lsm: 900, security: 58000 }), live);
    expect(JSON.parse(result.cursor ?? '')).toEqual({ lsm: 1007, security: 58000 });
  });

  it('gives the same keys on every capture, so the journal de-duplicates', async () => {
    const xml = fixture('wevtutil-lsm.xml');
    const { source } = setup({ [LSM_LOG]: [{ stdout: xml }, { stdout: xml }] });
    const once = events((await source.capture(null, live)).records).map((r) => r.key);
    const again = events((await source.capture(null, live)).records).map((r) => r.key);

    expect(again).toEqual(once);
    expect(new Set(once).size).toBe(7);
  });

  it('keeps good events and stops the cursor before the first rejected one', async () => {
    const { source } = setup({ [LSM_LOG]: [{ stdout: fixture('wevtutil-lsm-bad.xml') }] });
    const result = await source.capture(JSON.stringify({ lsm: 2000 }), live);

    expect(events(result.records).map((r) => r.user)).toEqual([
      'good.user',
      'later.user',
      'later.user',
    ]);
    expect(JSON.parse(result.cursor ?? '')).toEqual({ lsm: 2001 });
    expect(result.rejected).toEqual([
      {
        code: 'EBADRECORD',
        message:
          `source vda01-events: wevtutil qe ${LSM_LOG}, event record 2002 (EventID 24) ` +
          'field SessionID is not a whole number',
      },
      {
        code: 'EBADRECORD',
        message: expect.stringContaining('event record 2004 is not well-formed XML'),
      },
    ]);
    expect(JSON.stringify(result.rejected)).not.toMatch(/secret\.person|hidden\.user|10\.99/);
  });

  it('does not move the cursor when the first event is rejected', async () => {
    const xml = fixture('wevtutil-lsm-bad.xml').replace('<SessionID>3</SessionID>', '');
    const { source } = setup({ [LSM_LOG]: [{ stdout: xml }] });
    const result = await source.capture(JSON.stringify({ lsm: 2000 }), live);
    expect(JSON.parse(result.cursor ?? '')).toEqual({ lsm: 2000 });
  });

  it('rejects text outside the events and keeps the cursor where it was', async () => {
    const { source } = setup({
      [LSM_LOG]: [{ stdout: `Warning: partial results\r\n${fixture('wevtutil-lsm.xml')}` }],
    });
    const result = await source.capture(JSON.stringify({ lsm: 1000 }), live);

    expect(events(result.records)).toHaveLength(7);
    expect(JSON.parse(result.cursor ?? '')).toEqual({ lsm: 1000 });
    expect(result.rejected).toMatchObject([{ code: 'EBADRESPONSE' }]);
  });

  it('starts a cleared log again from its beginning, and warns once', async () => {
    const newest = fixture('wevtutil-lsm.xml').split('\r\n')[0];
    const { source, calls, log } = setup({ [LSM_LOG]: [{}, { stdout: newest }] });
    const result = await source.capture(JSON.stringify({ lsm: 50_000 }), live);

    expect(calls[1]?.args).toEqual(['qe', LSM_LOG, '/c:1', '/rd:true', '/f:xml']);
    expect(result).toMatchObject({ cursor: JSON.stringify({ lsm: 0 }), more: true });
    expect(log.entries.filter((e) => e.level === 'warn')).toHaveLength(1);
  });

  it('keeps its place when a log simply has nothing new', async () => {
    const newest = fixture('wevtutil-lsm.xml').split('\r\n')[6];
    const { source } = setup({ [LSM_LOG]: [{}, { stdout: newest }] });
    const result = await source.capture(JSON.stringify({ lsm: 1007 }), live);
    expect(result).toEqual({ records: [], cursor: JSON.stringify({ lsm: 1007 }), more: false });
  });

  it('reads a time window by TimeCreated, without a cursor', async () => {
    const { source, calls } = setup({ [LSM_LOG]: [{ stdout: fixture('wevtutil-lsm.xml') }] });
    const window = { since: Date.UTC(2024, 5, 27), until: Date.UTC(2024, 5, 28) };
    const result = await source.capture(null, live, window);

    expect(calls[0]?.args[2]).toBe(
      `/q:*[System[${LSM_IDS} and TimeCreated[@SystemTime>='2024-06-27T00:00:00.001Z' ` +
        `and @SystemTime<'2024-06-28T00:00:00.001Z']]]`,
    );
    expect(result).toEqual({ records: expect.any(Array), cursor: null });
  });

  it('continues a full window batch from just before its last event', async () => {
    const { source } = setup(
      { [LSM_LOG]: [{ stdout: fixture('wevtutil-lsm.xml') }] },
      { batchSize: 7 },
    );
    const window = { since: Date.UTC(2024, 5, 27), until: Date.UTC(2024, 5, 28) };
    const result = await source.capture(null, live, window);

    expect(result).toMatchObject({ more: true, cursor: String(Date.UTC(2024, 5, 27, 5, 30) - 1) });
  });

  it('fails with ECOMMAND naming wevtutil, the exit code and its message', async () => {
    const { source } = setup(
      {
        [LSM_LOG]: [{}, {}],
        Security: [{ exitCode: 5, stderr: 'Failed to read events. Access is denied.\r\n' }],
      },
      { security: true },
    );
    await expect(source.capture(null, live)).rejects.toMatchObject({
      code: 'ECOMMAND',
      message:
        'source vda01-events: wevtutil qe Security exited with code 5: ' +
        'Failed to read events. Access is denied.',
    });
  });

  it('fails with ECURSOR on a cursor it did not write', async () => {
    const { source } = setup({});
    await expect(source.capture('1234', live)).rejects.toMatchObject({ code: 'ECURSOR' });
    await expect(source.capture('{"lsm":-1}', live)).rejects.toMatchObject({ code: 'ECURSOR' });
  });

  it('fails to open with ENEEDSWINDOWS elsewhere', async () => {
    const { source } = setup({}, {}, { platform: 'linux' });
    await expect(source.open(live)).rejects.toMatchObject({ code: 'ENEEDSWINDOWS' });
  });

  describe('test', () => {
    it('reports ENEEDSWINDOWS elsewhere without running anything', async () => {
      const { source, calls } = setup({}, {}, { platform: 'linux' });
      expect(await source.test?.(live)).toMatchObject({ ok: false, code: 'ENEEDSWINDOWS' });
      expect(calls).toEqual([]);
    });

    it('reads the newest events and shows one with personal fields masked', async () => {
      const { source, calls } = setup({ [LSM_LOG]: [{ stdout: fixture('wevtutil-lsm.xml') }] });
      const diagnosis = await source.test?.(live);

      expect(calls[0]?.args).toEqual([
        'qe',
        LSM_LOG,
        `/q:*[System[${LSM_IDS} and EventRecordID>0]]`,
        '/c:20',
        '/rd:true',
        '/f:xml',
      ]);
      expect(diagnosis).toMatchObject({ ok: true, code: 'OK', count: 7 });
      expect(diagnosis?.sample).toMatchObject({ type: 'logon', user: '***', clientAddress: '***' });
      expect(JSON.stringify(diagnosis)).not.toContain('minjun.kim');
    });

    it('reports ENODATA when no session event is recorded', async () => {
      const { source } = setup({ [LSM_LOG]: [{}] });
      expect(await source.test?.(live)).toMatchObject({ ok: true, code: 'ENODATA' });
    });

    it('reports a failing wevtutil without throwing', async () => {
      const { source } = setup({ [LSM_LOG]: [{ exitCode: 15007, stderr: 'Channel not found.' }] });
      expect(await source.test?.(live)).toMatchObject({ ok: false, code: 'ECOMMAND' });
    });
  });
});
