import { readFileSync } from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { fakeRunner, sourceContext } from '../../../../../tests/support/sources.ts';
import type { CommandRunner } from '../../platform/command.ts';
import type { SessionRecord } from '../../records.ts';
import type { SourceContext } from '../types.ts';
import { windowsSessionsOptions, windowsSessionsSource } from './index.ts';
import type { WindowsSessionsOptions } from './index.ts';

const NOW = Date.UTC(2024, 5, 27, 6, 0);
const live = new AbortController().signal;

const bytes = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url));

/** A runner answering every command with the given fixture files, as a real one would. */
function fixtureRunner(answer: { stdout?: string; stderr?: string; exitCode?: number }) {
  return fakeRunner({
    ...answer,
    stdout: answer.stdout ? bytes(answer.stdout) : '',
    stderr: answer.stderr ? bytes(answer.stderr) : '',
  });
}

function setup(
  answer: Parameters<typeof fixtureRunner>[0],
  input: Record<string, unknown> = {},
  overrides: Partial<SourceContext> = {},
) {
  const { run, calls } = fixtureRunner(answer);
  const { context, log } = sourceContext({
    id: 'vda-sessions',
    timeZone: 'UTC',
    now: () => NOW,
    run,
    platform: 'win32',
    ...overrides,
  });
  const options: WindowsSessionsOptions = windowsSessionsOptions.parse(input);
  return { source: windowsSessionsSource.create(options, context), calls, log };
}

const sessions = (records: unknown[]) => records as SessionRecord[];

describe('windowsSessionsOptions', () => {
  it('fills in the defaults', () => {
    expect(windowsSessionsOptions.parse({})).toEqual({
      encoding: 'utf-8',
      slashDates: 'month-first',
      timeoutMs: 120_000,
    });
  });

  it.each([
    ['server', { server: 'vda01 /delete' }],
    ['server', { server: '"vda01"' }],
    ['machine', { machine: '' }],
    ['timeZone', { timeZone: 'Korea Standard Time' }],
    ['encoding', { encoding: 'cp949' }],
    ['slashDates', { slashDates: 'dmy' }],
    ['timeoutMs', { timeoutMs: 10 }],
  ])('rejects a bad %s with a message naming it', (option, input) => {
    const result = windowsSessionsOptions.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join('; ')).toContain(option);
  });

  it('rejects an unknown option', () => {
    const result = windowsSessionsOptions.safeParse({ host: 'vda01' });
    expect(result.error?.issues).toMatchObject([{ code: 'unrecognized_keys', keys: ['host'] }]);
  });
});

describe('windows-sessions source', () => {
  it('declares that it needs Windows', () => {
    expect(windowsSessionsSource.platforms).toEqual(['win32']);
  });

  it('runs quser with /server when a server is given', async () => {
    const { source, calls } = setup({ stdout: 'quser-english.txt' }, { server: 'vda01' });
    await source.capture(null, live);

    expect(calls).toEqual([
      {
        file: 'quser.exe',
        args: ['/server:vda01'],
        options: expect.objectContaining({ encoding: 'latin1', timeoutMs: 120_000 }),
      },
    ]);
  });

  it('runs plain quser for this machine', async () => {
    const { source, calls } = setup({ stdout: 'quser-english.txt' });
    await source.capture(null, live);
    expect(calls[0]?.args).toEqual([]);
  });

  it('maps rows to session records in the host time zone', async () => {
    const { source } = setup(
      { stdout: 'quser-korean.txt' },
      { server: 'vda01', machine: 'CORP\\VDA01', timeZone: 'Asia/Seoul' },
    );
    const result = await source.capture(null, live);
    const [first, second] = sessions(result.records);

    expect(result.cursor).toBeNull();
    expect(result.rejected).toBeUndefined();
    expect(first).toEqual({
      kind: 'session',
      key: `corp\\vda01:2:${Date.UTC(2024, 5, 27, 5, 5)}`,
      user: 'administrator',
      domain: null,
      fullName: null,
      machine: 'CORP\\VDA01',
      deliveryGroup: null,
      clientName: null,
      clientAddress: null,
      clientVersion: null,
      protocol: 'RDP',
      sessionType: null,
      startAt: Date.UTC(2024, 5, 27, 5, 5),
      endAt: null,
      logonDurationMs: null,
      state: 'Active',
      stateChangedAt: null,
      failureCode: null,
      failureReason: null,
    });
    expect(second).toMatchObject({ state: 'Disconnected', protocol: null });
    expect(second?.startAt).toBe(Date.UTC(2024, 5, 27, 0, 5));
  });

  it("uses the agent's time zone and this machine's name by default", async () => {
    const { source } = setup({ stdout: 'quser-german.txt' }, {}, { timeZone: 'Europe/Berlin' });
    const [first, , third] = sessions((await source.capture(null, live)).records);

    expect(first?.machine).toBe(os.hostname());
    expect(first?.startAt).toBe(Date.UTC(2017, 6, 21, 3, 35));
    expect(first?.state).toBe('Active');
    expect(third?.protocol).toBe('HDX');
  });

  it('gives the same keys on every capture, so the journal de-duplicates', async () => {
    const { source } = setup({ stdout: 'quser-english.txt' }, { server: 'vda01' });
    const once = sessions((await source.capture(null, live)).records).map((r) => r.key);
    const again = sessions((await source.capture(null, live)).records).map((r) => r.key);

    expect(again).toEqual(once);
    expect(new Set(once).size).toBe(once.length);
  });

  it('decodes Korean output in code page 949 when told to', async () => {
    const { source } = setup({ stdout: 'quser-korean-cp949.bin' }, { encoding: 'windows-949' });
    const records = sessions((await source.capture(null, live)).records);

    expect(records.map((r) => r.state)).toEqual([
      'Active',
      'Disconnected',
      'Active',
      'Active',
      'Disconnected',
    ]);
  });

  it('says which encoding to set when Korean output is read as UTF-8', async () => {
    const { source } = setup({ stdout: 'quser-korean-cp949.bin' });
    await expect(source.capture(null, live)).rejects.toMatchObject({
      code: 'EBADRESPONSE',
      message: expect.stringContaining('windows-949'),
    });
  });

  it('treats "No User exists" as nobody logged on, not as a failure', async () => {
    const { source } = setup({ stderr: 'quser-nobody.stderr.txt', exitCode: 1 });
    expect(await source.capture(null, live)).toEqual({ records: [], cursor: null });
  });

  it('fails with ECOMMAND naming quser, the exit code and the first error line', async () => {
    const { source } = setup(
      { stderr: 'quser-access-denied.stderr.txt', exitCode: 1 },
      { server: 'vda01' },
    );
    await expect(source.capture(null, live)).rejects.toMatchObject({
      code: 'ECOMMAND',
      message:
        'source vda-sessions: quser /server:vda01 exited with code 1: ' +
        'Error 0x00000005 enumerating sessionnames',
    });
  });

  it('fails with ECOMMAND when quser cannot be started', async () => {
    const run: CommandRunner = async () => {
      throw Object.assign(new Error('spawn quser.exe ENOENT'), { code: 'ENOENT' });
    };
    const { source } = setup({}, {}, { run });
    await expect(source.capture(null, live)).rejects.toMatchObject({
      code: 'ECOMMAND',
      message: expect.stringContaining('quser could not be started'),
    });
  });

  it('fails with EBADRESPONSE naming the line of an unknown layout', async () => {
    const { source } = setup({ stdout: 'quser-unknown-layout.txt' });
    await expect(source.capture(null, live)).rejects.toMatchObject({
      code: 'EBADRESPONSE',
      message: expect.stringMatching(/^source vda-sessions: quser: line 1 is not a quser header/),
    });
  });

  it('keeps good rows and rejects bad ones without repeating personal values', async () => {
    const { source } = setup({ stdout: 'quser-bad-rows.txt' });
    const result = await source.capture(null, live);

    expect(sessions(result.records).map((r) => r.user)).toEqual(['administrator', 'james.miller']);
    expect(result.rejected).toEqual([
      {
        code: 'EBADRECORD',
        message: expect.stringMatching(/^source vda-sessions: quser, line 3: LOGON TIME /),
      },
      { code: 'EBADRECORD', message: expect.stringContaining('line 4: LOGON TIME') },
      { code: 'EBADRECORD', message: expect.stringContaining('line 5: IDLE TIME') },
    ]);
    const said = JSON.stringify(result.rejected);
    expect(said).not.toContain('secret.person');
    expect(said).not.toContain('hidden.user');
  });

  it('records an unknown state as Unknown and warns once', async () => {
    const text = bytes('quser-english.txt').toString('utf8').replace('Disc  ', 'Frozen');
    const run: CommandRunner = async (_file, _args, options) => ({
      stdout: Buffer.from(text).toString(options?.encoding ?? 'utf8'),
      stderr: '',
      exitCode: 0,
    });
    const { source, log } = setup({}, {}, { run });
    const records = sessions((await source.capture(null, live)).records);
    await source.capture(null, live);

    expect(records[1]?.state).toBe('Unknown');
    expect(log.entries.filter((e) => e.level === 'warn')).toHaveLength(1);
  });

  it('cannot capture a past time window', async () => {
    const { source } = setup({ stdout: 'quser-english.txt' });
    await expect(source.capture(null, live, { since: 0, until: NOW })).rejects.toMatchObject({
      code: 'EWINDOW',
    });
  });

  it('fails to open with ENEEDSWINDOWS elsewhere', async () => {
    const { source, calls } = setup({ stdout: 'quser-english.txt' }, {}, { platform: 'linux' });
    await expect(source.open(live)).rejects.toMatchObject({
      code: 'ENEEDSWINDOWS',
      message: expect.stringContaining('linux'),
    });
    expect(calls).toEqual([]);
  });

  describe('test', () => {
    it('reports ENEEDSWINDOWS elsewhere without running anything', async () => {
      const { source, calls } = setup({ stdout: 'quser-english.txt' }, {}, { platform: 'linux' });
      expect(await source.test?.(live)).toMatchObject({ ok: false, code: 'ENEEDSWINDOWS' });
      expect(calls).toEqual([]);
    });

    it('reports OK with a count and a sample whose personal fields are masked', async () => {
      const { source } = setup({ stdout: 'quser-english.txt' });
      const diagnosis = await source.test?.(live);

      expect(diagnosis).toMatchObject({ ok: true, code: 'OK', count: 6 });
      expect(diagnosis?.sample).toMatchObject({ user: '***', state: 'Active', protocol: 'RDP' });
      expect(JSON.stringify(diagnosis)).not.toContain('administrator');
    });

    it('reports ENODATA when nobody is logged on', async () => {
      const { source } = setup({ stderr: 'quser-nobody.stderr.txt', exitCode: 1 });
      expect(await source.test?.(live)).toMatchObject({ ok: true, code: 'ENODATA', count: 0 });
    });

    it('reports a failing quser with its code, without throwing', async () => {
      const { source } = setup({ stderr: 'quser-access-denied.stderr.txt', exitCode: 1 });
      expect(await source.test?.(live)).toMatchObject({ ok: false, code: 'ECOMMAND' });
    });

    it('reports rejected rows with the first problem', async () => {
      const { source } = setup({ stdout: 'quser-bad-rows.txt' });
      const diagnosis = await source.test?.(live);

      expect(diagnosis).toMatchObject({ ok: false, code: 'EBADRECORD', count: 2 });
      expect(diagnosis?.message).toContain('line 3');
      expect(JSON.stringify(diagnosis)).not.toContain('secret.person');
    });
  });
});
