import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  fakeRunner,
  sourceContext,
  type RunnerAnswer,
} from '../../../../../tests/support/sources.ts';
import type { SessionRecord } from '../../records.ts';
import type { SourceContext } from '../types.ts';
import { brokerScript, citrixBrokerOptions, citrixBrokerSource } from './index.ts';

const live = new AbortController().signal;

const fixture = (name: string) =>
  readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

function setup(
  answer: RunnerAnswer,
  input: Record<string, unknown> = {},
  overrides: Partial<SourceContext> = {},
) {
  const { run, calls } = fakeRunner(answer);
  const { context, log } = sourceContext({
    id: 'site',
    now: () => Date.UTC(2024, 5, 27, 6),
    run,
    platform: 'win32',
    ...overrides,
  });
  const source = citrixBrokerSource.create(citrixBrokerOptions.parse(input), context);
  return { source, calls, log };
}

const sessions = (records: unknown[]) => records as SessionRecord[];

describe('citrixBrokerOptions', () => {
  it('fills in the defaults, with a MaxRecordCount far above the cmdlet default of 250', () => {
    expect(citrixBrokerOptions.parse({})).toEqual({
      maxRecordCount: 100_000,
      powershell: 'powershell.exe',
      timeoutMs: 120_000,
    });
  });

  it.each([
    ['adminAddress', { adminAddress: "ddc01'; Remove-Item C:\\" }],
    ['maxRecordCount', { maxRecordCount: 0 }],
    ['maxRecordCount', { maxRecordCount: '250' }],
    ['powershell', { powershell: 'cmd.exe' }],
    ['timeZone', { timeZone: 'KST' }],
  ])('rejects a bad %s with a message naming it', (option, input) => {
    const result = citrixBrokerOptions.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join('; ')).toContain(option);
  });
});

describe('brokerScript', () => {
  it('asks the controller for up to maxRecordCount sessions and writes them as JSON', () => {
    expect(brokerScript({ adminAddress: 'ddc01.corp.example.com', maxRecordCount: 5000 })).toBe(
      "$ErrorActionPreference = 'Stop'; " +
        '[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false; ' +
        'Add-PSSnapin Citrix* -ErrorAction SilentlyContinue; ' +
        "Get-BrokerSession -AdminAddress 'ddc01.corp.example.com' -MaxRecordCount 5000 | " +
        'Select-Object SessionKey,UserName,UserUPN,UserFullName,MachineName,DNSName,' +
        'DesktopGroupName,ClientName,ClientAddress,ClientVersion,Protocol,' +
        "@{n='SessionType';e={[string]$_.SessionType}}," +
        "@{n='SessionState';e={[string]$_.SessionState}}," +
        'StartTime,BrokeringTime,EstablishmentTime,SessionStateChangeTime | ' +
        'ConvertTo-Json -Depth 3 -Compress',
    );
  });

  it('leaves -AdminAddress out for the local controller', () => {
    expect(brokerScript({ maxRecordCount: 100_000 })).toContain(
      'Get-BrokerSession -MaxRecordCount 100000 |',
    );
  });
});

describe('citrix-broker source', () => {
  it('declares that it needs Windows', () => {
    expect(citrixBrokerSource.platforms).toEqual(['win32']);
  });

  it('runs PowerShell without profile or prompts, with MaxRecordCount', async () => {
    const { source, calls } = setup(
      { stdout: fixture('get-brokersession-ps51.txt') },
      { adminAddress: 'ddc01', powershell: 'pwsh.exe' },
    );
    await source.capture(null, live);

    expect(calls).toHaveLength(1);
    expect(calls[0]?.file).toBe('pwsh.exe');
    expect(calls[0]?.args.slice(0, 3)).toEqual(['-NoProfile', '-NonInteractive', '-Command']);
    expect(calls[0]?.args[3]).toContain("-AdminAddress 'ddc01' -MaxRecordCount 100000 |");
  });

  it('maps sessions to records keyed by SessionKey, with no cursor', async () => {
    const { source } = setup({ stdout: fixture('get-brokersession-ps51.txt') });
    const result = await source.capture(null, live);

    expect(sessions(result.records).map((r) => r.key)).toEqual([
      '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
      '7c9e6679-7425-40de-944b-e07fc1f90ae7',
      '16fd2706-8baf-433b-82eb-8c7fada847da',
    ]);
    expect(result).toMatchObject({ cursor: null });
    expect(result.rejected).toBeUndefined();
  });

  it('reads naive PowerShell 7 dates in the time zone option', async () => {
    const { source } = setup({ stdout: fixture('get-brokersession-ps7.txt') }, { timeZone: 'UTC' });
    const [, james] = sessions((await source.capture(null, live)).records);
    expect(james?.startAt).toBe(Date.UTC(2024, 5, 27, 8, 30));
  });

  it('warns once when the count reaches maxRecordCount', async () => {
    const { source, log } = setup(
      { stdout: fixture('get-brokersession-ps51.txt') },
      { maxRecordCount: 3 },
    );
    await source.capture(null, live);
    await source.capture(null, live);

    const warnings = log.entries.filter((e) => e.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toContain('maxRecordCount (3)');
  });

  it('does not warn below maxRecordCount', async () => {
    const { source, log } = setup({ stdout: fixture('get-brokersession-ps51.txt') });
    await source.capture(null, live);
    expect(log.entries.filter((e) => e.level === 'warn')).toEqual([]);
  });

  it('keeps good sessions and rejects damaged ones without personal values', async () => {
    const { source } = setup({ stdout: fixture('get-brokersession-bad.txt') });
    const result = await source.capture(null, live);

    expect(sessions(result.records)).toHaveLength(3);
    expect(result.rejected).toEqual([
      {
        code: 'EBADRECORD',
        message: 'source site: Get-BrokerSession, session 2: field StartTime is not a date',
      },
      { code: 'EBADRECORD', message: expect.stringContaining('session 3: field SessionKey') },
      { code: 'EBADRECORD', message: expect.stringContaining('session 4: field UserName') },
    ]);
    expect(JSON.stringify(result.rejected)).not.toMatch(/secret|hidden|xxx/);
  });

  it('fails with ECOMMAND naming the cmdlet, the exit code and the first error line', async () => {
    const { source } = setup(
      {
        exitCode: 1,
        stderr:
          'Get-BrokerSession : Insufficient administrative privilege\r\n' +
          'At line:1 char:120\r\n',
      },
      { adminAddress: 'ddc01' },
    );
    await expect(source.capture(null, live)).rejects.toMatchObject({
      code: 'ECOMMAND',
      message:
        'source site: Get-BrokerSession -AdminAddress ddc01 exited with code 1: ' +
        'Get-BrokerSession : Insufficient administrative privilege',
    });
  });

  it('fails with EBADRESPONSE when PowerShell prints something not JSON', async () => {
    const { source } = setup({ stdout: 'WARNING: CORP\\minjun.kim has no licence' });
    const failure = source.capture(null, live);
    await expect(failure).rejects.toMatchObject({ code: 'EBADRESPONSE' });
    await expect(failure).rejects.not.toThrow(/minjun/);
  });

  it('cannot capture a past time window', async () => {
    const { source } = setup({ stdout: '' });
    await expect(source.capture(null, live, { since: 0, until: 1 })).rejects.toMatchObject({
      code: 'EWINDOW',
    });
  });

  it('fails to open with ENEEDSWINDOWS elsewhere', async () => {
    const { source } = setup({}, {}, { platform: 'linux' });
    await expect(source.open(live)).rejects.toMatchObject({ code: 'ENEEDSWINDOWS' });
  });

  describe('test', () => {
    it('reports ENEEDSWINDOWS elsewhere without running PowerShell', async () => {
      const { source, calls } = setup({}, {}, { platform: 'linux' });
      expect(await source.test?.(live)).toMatchObject({ ok: false, code: 'ENEEDSWINDOWS' });
      expect(calls).toEqual([]);
    });

    it('reports OK with a count and a masked sample', async () => {
      const { source } = setup({ stdout: fixture('get-brokersession-ps51.txt') });
      const diagnosis = await source.test?.(live);

      expect(diagnosis).toMatchObject({ ok: true, code: 'OK', count: 3 });
      expect(diagnosis?.sample).toMatchObject({
        user: '***',
        fullName: '***',
        clientName: '***',
        clientAddress: '***',
        machine: 'CORP\\VDA-OD-001',
      });
      expect(JSON.stringify(diagnosis)).not.toMatch(/minjun|김민준|KR-LT|10\.20/);
    });

    it('reports ENODATA when no session is open', async () => {
      const { source } = setup({ stdout: '' });
      expect(await source.test?.(live)).toMatchObject({ ok: true, code: 'ENODATA', count: 0 });
    });

    it('reports a failing PowerShell without throwing', async () => {
      const { source } = setup({ exitCode: 1, stderr: 'Add-PSSnapin : No snap-ins found' });
      expect(await source.test?.(live)).toMatchObject({ ok: false, code: 'ECOMMAND' });
    });
  });
});
