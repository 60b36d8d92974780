/**
 * The `citrix-broker` source: the sessions a Citrix Delivery Controller knows now, read with
 * `Get-BrokerSession` through PowerShell. See README.md beside this file.
 */
import { z } from 'zod';
import { SourceError, throwIfAborted } from '../../errors.ts';
import { requireWindows } from '../../platform/command.ts';
import type { SessionRecord } from '../../records.ts';
import { diagnose } from '../shared/diagnose.ts';
import { hostOption, timeoutOption, timeZoneOption } from '../shared/options.ts';
import { runChecked } from '../shared/run.ts';
import type { CommandRequest } from '../shared/run.ts';
import type {
  CaptureResult,
  CaptureWindow,
  Source,
  SourceContext,
  SourcePlugin,
  SourceProblem,
} from '../types.ts';
import { BROKER_FIELDS, BrokerOutputError, readBrokerSessions } from './broker.ts';

/**
 * Options of a `citrix-broker` source; all optional, unknown keys rejected.
 *
 * - `adminAddress`: the Delivery Controller to ask (`-AdminAddress`); default the one the agent
 *   runs on.
 * - `maxRecordCount` (100000, 1-10000000): passed as `-MaxRecordCount`, always, since the
 *   cmdlet's own default of 250 silently cuts the list short.
 * - `powershell` (`powershell.exe`): Windows PowerShell 5.1, or `pwsh.exe` for PowerShell 7.
 * - `timeZone`: the zone of dates PowerShell writes without an offset; default the agent's.
 * - `timeoutMs` (120000): how long PowerShell may run, snap-in loading included.
 */
export const citrixBrokerOptions = z.strictObject({
  adminAddress: hostOption('adminAddress').optional(),
  maxRecordCount: z
    .int({ error: 'maxRecordCount must be a whole number of sessions' })
    .min(1, { error: 'maxRecordCount must be at least 1' })
    .max(10_000_000, { error: 'maxRecordCount must be at most 10000000' })
    .default(100_000),
  powershell: z
    .enum(['powershell.exe', 'pwsh.exe'], {
      error: 'powershell must be "powershell.exe" (Windows PowerShell 5.1) or "pwsh.exe"',
    })
    .default('powershell.exe'),
  timeZone: timeZoneOption,
  timeoutMs: timeoutOption,
});

/** Validated `citrix-broker` options, defaults filled in. */
export type CitrixBrokerOptions = z.output<typeof citrixBrokerOptions>;

/** The `citrix-broker` source plugin: a snapshot of the site's sessions every five minutes. */
export const citrixBrokerSource: SourcePlugin<CitrixBrokerOptions> = {
  kind: 'citrix-broker',
  description: 'Sessions of a Citrix site, read with Get-BrokerSession on a Delivery Controller',
  options: citrixBrokerOptions,
  defaultSchedule: '*/5 * * * *',
  platforms: ['win32'],
  create: (options, context) => new CitrixBrokerSource(options, context),
};

/**
 * The PowerShell script. Output is UTF-8 whatever the console's code page, so that Korean full
 * names survive; enums are cast to their names, which ConvertTo-Json would otherwise write as
 * numbers; errors stop the script, so that a failure exits non-zero with its message.
 */
export function brokerScript(
  options: Pick<CitrixBrokerOptions, 'adminAddress' | 'maxRecordCount'>,
) {
  const admin = options.adminAddress ? ` -AdminAddress '${options.adminAddress}'` : '';
  const fields = BROKER_FIELDS.map((f) =>
    f === 'SessionState' || f === 'SessionType' ? `@{n='${f}';e={[string]$_.${f}}}` : f,
  ).join(',');
  return [
    "$ErrorActionPreference = 'Stop'",
    '[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false',
    'Add-PSSnapin Citrix* -ErrorAction SilentlyContinue',
    `Get-BrokerSession${admin} -MaxRecordCount ${options.maxRecordCount} | ` +
      `Select-Object ${fields} | ConvertTo-Json -Depth 3 -Compress`,
  ].join('; ');
}

class CitrixBrokerSource implements Source {
  private readonly options: CitrixBrokerOptions;
  private readonly context: SourceContext;
  private readonly request: Omit<CommandRequest, 'signal'>;

  constructor(options: CitrixBrokerOptions, context: SourceContext) {
    this.options = options;
    this.context = context;
    const admin = options.adminAddress ? ` -AdminAddress ${options.adminAddress}` : '';
    this.request = {
      file: options.powershell,
      args: ['-NoProfile', '-NonInteractive', '-Command', brokerScript(options)],
      shown: `Get-BrokerSession${admin}`,
      encoding: 'utf-8',
      timeoutMs: options.timeoutMs,
    };
  }

  async open(signal: AbortSignal): Promise<void> {
    throwIfAborted(signal, `opening source ${this.context.id}`);
    requireWindows(this.context.id, 'Get-BrokerSession', this.context.platform);
  }

  async capture(
    _cursor: string | null,
    signal: AbortSignal,
    window?: CaptureWindow,
  ): Promise<CaptureResult> {
    const { id, log } = this.context;
    if (window) {
      throw new SourceError(
        'EWINDOW',
        id,
        'Get-BrokerSession lists the sessions open now; a past time window cannot be captured',
      );
    }
    throwIfAborted(signal, `capture of source ${id}`);

    const stdout = await runChecked(this.context, { ...this.request, signal });
    let items;
    try {
      items = readBrokerSessions(stdout, {
        timeZone: this.options.timeZone ?? this.context.timeZone,
        onUnknownState: (name) =>
          log.warnOnce(
            `citrix-broker:${id}:state:${name}`,
            'Get-BrokerSession returned a session state this source does not know; recorded as Other',
            { source: id, state: name },
          ),
      });
    } catch (error) {
      if (!(error instanceof BrokerOutputError)) throw error;
      throw new SourceError('EBADRESPONSE', id, `${this.request.shown} ${error.message}`, {
        cause: error,
      });
    }

    if (items.length >= this.options.maxRecordCount) {
      log.warnOnce(
        `citrix-broker:${id}:truncated`,
        `Get-BrokerSession returned exactly maxRecordCount (${this.options.maxRecordCount}) ` +
          'sessions: the list is probably cut short; raise maxRecordCount',
        { source: id, maxRecordCount: this.options.maxRecordCount },
      );
    }

    const records: SessionRecord[] = [];
    const rejected: SourceProblem[] = [];
    items.forEach((item, index) => {
      if ('record' in item) records.push(item.record);
      else {
        rejected.push({
          code: 'EBADRECORD',
          message: `source ${id}: ${this.request.shown}, session ${index + 1}: ${item.problem}`,
        });
      }
    });
    log.debug('broker sessions read', { sessions: records.length, rejected: rejected.length });
    return rejected.length ? { records, cursor: null, rejected } : { records, cursor: null };
  }

  async test(signal: AbortSignal) {
    const where = this.options.adminAddress ?? 'this Delivery Controller';
    return diagnose(
      async () => {
        await this.open(signal);
        return this.capture(null, signal);
      },
      {
        reached: `Get-BrokerSession answered on ${where}`,
        empty: 'no session is open',
        noun: 'sessions',
      },
    );
  }

  async close(): Promise<void> {}
}
