/**
 * The `windows-sessions` source: who is logged on to a Windows session host (a VDA or an RDS
 * host) right now, read from `quser`. See README.md beside this file.
 */
import os from 'node:os';
import { z } from 'zod';
import { SourceError, throwIfAborted } from '../../errors.ts';
import { requireWindows } from '../../platform/command.ts';
import type { SessionRecord, SessionState } from '../../records.ts';
import { zonedTime } from '../../time.ts';
import { diagnose } from '../shared/diagnose.ts';
import { encodingOption, hostOption, timeoutOption, timeZoneOption } from '../shared/options.ts';
import { commandFailed, firstLine, runDecoded } from '../shared/run.ts';
import type { CommandRequest, DecodedOutput } from '../shared/run.ts';
import type {
  CaptureResult,
  CaptureWindow,
  Source,
  SourceContext,
  SourcePlugin,
  SourceProblem,
} from '../types.ts';
import { QuserLayoutError, parseQuser } from './quser.ts';
import type { QuserRow } from './quser.ts';

/**
 * Options of a `windows-sessions` source; all optional, unknown keys rejected.
 *
 * - `server`: query another session host (`quser /server:NAME`); default this machine.
 * - `machine`: the name recorded as each session's machine; default `server`, else this
 *   machine's host name.
 * - `timeZone`: the host's IANA zone, in which quser prints logon times; default the agent's.
 * - `encoding` (`utf-8`): how quser's output is encoded; `windows-949` on Korean Windows.
 * - `slashDates` (`month-first`): how `a/b/yyyy` dates are read; `day-first` for `21/07/2017`.
 * - `timeoutMs` (120000): how long quser may run.
 */
export const windowsSessionsOptions = z.strictObject({
  server: hostOption('server').optional(),
  machine: z
    .string({ error: 'machine must be a host name in quotes' })
    .trim()
    .min(1, { error: 'machine must not be empty' })
    .max(255, { error: 'machine must be at most 255 characters' })
    .optional(),
  timeZone: timeZoneOption,
  encoding: encodingOption,
  slashDates: z
    .enum(['month-first', 'day-first'], {
      error: 'slashDates must be "month-first" (7/21/2017) or "day-first" (21/07/2017)',
    })
    .default('month-first'),
  timeoutMs: timeoutOption,
});

/** Validated `windows-sessions` options, defaults filled in. */
export type WindowsSessionsOptions = z.output<typeof windowsSessionsOptions>;

/** The `windows-sessions` source plugin: a `quser` snapshot every five minutes. */
export const windowsSessionsSource: SourcePlugin<WindowsSessionsOptions> = {
  kind: 'windows-sessions',
  description: 'Sessions on a Windows session host (VDA or RDS), read with quser',
  options: windowsSessionsOptions,
  defaultSchedule: '*/5 * * * *',
  platforms: ['win32'],
  create: (options, context) => new WindowsSessionsSource(options, context),
};

/**
 * The STATE words quser prints, by the state they mean: English, German and Korean, and the
 * Spanish, French, Italian and Portuguese words for the two common states. Compared without case.
 */
const STATE_WORDS: readonly (readonly [SessionState, readonly string[]])[] = [
  ['Active', ['active', 'aktiv', '활성', '활성화', 'activo', 'actif', 'attivo', 'ativo']],
  [
    'Disconnected',
    [
      'disc',
      'disconnected',
      'getr.',
      'getrennt',
      '디스크',
      '연결 끊김',
      '연결끊김',
      'desc',
      'déco',
    ],
  ],
  ['Connected', ['conn', 'connected', 'verb.', '연결됨']],
  ['Other', ['listen', 'shadow', 'idle', 'down', 'init', 'reset', 'connq']],
];

const STATES: ReadonlyMap<string, SessionState> = new Map(
  STATE_WORDS.flatMap(([state, words]) => words.map((word) => [word, state] as const)),
);

class WindowsSessionsSource implements Source {
  private readonly options: WindowsSessionsOptions;
  private readonly context: SourceContext;
  private readonly machine: string;
  private readonly request: Omit<CommandRequest, 'signal'>;

  constructor(options: WindowsSessionsOptions, context: SourceContext) {
    this.options = options;
    this.context = context;
    this.machine = options.machine ?? options.server ?? os.hostname();
    const args = options.server ? [`/server:${options.server}`] : [];
    this.request = {
      file: 'quser.exe',
      args,
      shown: ['quser', ...args].join(' '),
      encoding: options.encoding,
      timeoutMs: options.timeoutMs,
    };
  }

  async open(signal: AbortSignal): Promise<void> {
    throwIfAborted(signal, `opening source ${this.context.id}`);
    requireWindows(this.context.id, 'quser', this.context.platform);
  }

  async capture(
    _cursor: string | null,
    signal: AbortSignal,
    window?: CaptureWindow,
  ): Promise<CaptureResult> {
    const { id } = this.context;
    if (window) {
      throw new SourceError(
        'EWINDOW',
        id,
        'quser shows who is logged on now; a past time window cannot be captured',
      );
    }
    throwIfAborted(signal, `capture of source ${id}`);

    const output = await runDecoded(this.context, { ...this.request, signal });
    if (output.exitCode !== 0) {
      if (nobodyLoggedOn(output)) return { records: [], cursor: null };
      throw commandFailed(id, this.request.shown, output);
    }
    return this.read(output.stdout);
  }

  async test(signal: AbortSignal) {
    return diagnose(
      async () => {
        await this.open(signal);
        return this.capture(null, signal);
      },
      {
        reached: `${this.request.shown} ran`,
        empty: 'nobody is logged on',
        noun: 'sessions',
      },
    );
  }

  async close(): Promise<void> {}

  private read(stdout: string): CaptureResult {
    const { id } = this.context;
    const { shown } = this.request;
    let table;
    try {
      table = parseQuser(stdout, this.options.slashDates);
    } catch (error) {
      if (!(error instanceof QuserLayoutError)) throw error;
      const hint = stdout.includes('\uFFFD')
        ? `; the output is not valid ${this.options.encoding}: set encoding (e.g. "windows-949" on Korean Windows)`
        : '';
      throw new SourceError('EBADRESPONSE', id, `${shown}: ${error.message}${hint}`, {
        cause: error,
      });
    }

    const rejected: SourceProblem[] = table.problems.map((p) => ({
      code: 'EBADRECORD',
      message: `source ${id}: ${shown}, line ${p.line}: ${p.field} ${p.reason}`,
    }));
    const records = table.rows.map((row) => this.toRecord(row));
    this.context.log.debug('quser read', { sessions: records.length, rejected: rejected.length });
    return rejected.length ? { records, cursor: null, rejected } : { records, cursor: null };
  }

  private toRecord(row: QuserRow): SessionRecord {
    const { year, month, day, hour, minute } = row.logon;
    const startAt = zonedTime(
      this.options.timeZone ?? this.context.timeZone,
      year,
      month,
      day,
      hour,
      minute,
    );
    return {
      kind: 'session',
      key: `${this.machine.toLowerCase()}:${row.sessionId}:${startAt}`,
      user: row.user,
      domain: null,
      fullName: null,
      machine: this.machine,
      deliveryGroup: null,
      clientName: null,
      clientAddress: null,
      clientVersion: null,
      protocol: protocolOf(row.sessionName),
      sessionType: null,
      startAt,
      endAt: null,
      logonDurationMs: null,
      state: this.stateOf(row.state),
      stateChangedAt: null,
      failureCode: null,
      failureReason: null,
    };
  }

  private stateOf(printed: string): SessionState {
    const state = STATES.get(printed.toLowerCase());
    if (state) return state;
    this.context.log.warnOnce(
      `windows-sessions:${this.context.id}:state:${printed}`,
      `quser printed a session state this source does not know; recorded as Unknown`,
      { source: this.context.id, state: printed.slice(0, 40) },
    );
    return 'Unknown';
  }
}

/**
 * quser exits with 1 and says `No User exists for *` (in the host's language) when nobody is
 * logged on: that is an empty host, not a failure. Other failures name an error or a code.
 */
function nobodyLoggedOn(output: DecodedOutput): boolean {
  if (output.exitCode !== 1) return false;
  const said = firstLine(output.stderr) || firstLine(output.stdout);
  if (/no user exists/i.test(said)) return true;
  return said.includes('*') && !/error|fehler|오류|0x[0-9a-f]+|\[\d+\]/i.test(said);
}

/** The protocol a session name implies: `rdp-tcp#3` RDP, `ica-cgp#1` HDX, `console`. */
function protocolOf(sessionName: string | null): string | null {
  if (!sessionName) return null;
  const name = sessionName.toLowerCase();
  if (name.startsWith('rdp-')) return 'RDP';
  if (name.startsWith('ica-')) return 'HDX';
  if (name === 'console') return 'Console';
  return null;
}
