/**
 * The `windows-events` source: logons, logoffs, disconnects and reconnects on a Windows session
 * host, read from its event logs with `wevtutil`. See README.md beside this file.
 */
import { z } from 'zod';
import { SourceError, throwIfAborted } from '../../errors.ts';
import { requireWindows } from '../../platform/command.ts';
import type { EventRecord } from '../../records.ts';
import { diagnose } from '../shared/diagnose.ts';
import {
  backfillHoursOption,
  encodingOption,
  hostOption,
  timeoutOption,
} from '../shared/options.ts';
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
import { EVENT_IDS, LOG_ALIAS, LSM_LOG, SECURITY_LOG, readBatch } from './events.ts';
import type { Batch, EventLogName } from './events.ts';

/** Three years and a leap day: the longest history the agent is asked to keep. */
/** How many of the newest events a connection test reads from each log. */
const TEST_EVENTS = 20;

/**
 * Options of a `windows-events` source; all optional, unknown keys rejected.
 *
 * - `server`: read the logs of another host (`wevtutil /r:NAME`); default this machine.
 * - `security` (false): also read Security events 4624 and 4634 of logon type 10, 4647, 4778
 *   and 4779. The agent's account must be allowed to read the Security log.
 * - `batchSize` (1000, 1-100000): events read from each log per capture (`/c:N`); a full batch
 *   makes the agent capture again at once.
 * - `backfillHours`: how far back the first capture of a log looks; absent: the whole log.
 * - `encoding` (`utf-8`): how wevtutil's output is encoded.
 * - `timeoutMs` (120000): how long one wevtutil call may run.
 */
export const windowsEventsOptions = z.strictObject({
  server: hostOption('server').optional(),
  security: z.boolean({ error: 'security must be true or false' }).default(false),
  batchSize: z
    .int({ error: 'batchSize must be a whole number of events' })
    .min(1, { error: 'batchSize must be at least 1' })
    .max(100_000, { error: 'batchSize must be at most 100000' })
    .default(1000),
  backfillHours: backfillHoursOption().optional(),
  encoding: encodingOption,
  timeoutMs: timeoutOption,
});

/** Validated `windows-events` options, defaults filled in. */
export type WindowsEventsOptions = z.output<typeof windowsEventsOptions>;

/** The `windows-events` source plugin: new session events every five minutes. */
export const windowsEventsSource: SourcePlugin<WindowsEventsOptions> = {
  kind: 'windows-events',
  description: 'Logons, logoffs, disconnects and reconnects from the event logs of a Windows host',
  options: windowsEventsOptions,
  defaultSchedule: '*/5 * * * *',
  platforms: ['win32'],
  create: (options, context) => new WindowsEventsSource(options, context),
};

/** The cursor: the last EventRecordID stored, per log alias (`lsm`, `security`). */
type Positions = Record<string, number>;

/** What reading one log gave. */
interface LogRead {
  records: EventRecord[];
  rejected: SourceProblem[];
  /** The last EventRecordID that may be passed: before the first event that was rejected. */
  position: number;
  /** The time of the last event read, when the batch was full. */
  fullAt: number | null;
}

class WindowsEventsSource implements Source {
  private readonly options: WindowsEventsOptions;
  private readonly context: SourceContext;
  private readonly logs: EventLogName[];

  constructor(options: WindowsEventsOptions, context: SourceContext) {
    this.options = options;
    this.context = context;
    this.logs = options.security ? [LSM_LOG, SECURITY_LOG] : [LSM_LOG];
  }

  async open(signal: AbortSignal): Promise<void> {
    throwIfAborted(signal, `opening source ${this.context.id}`);
    requireWindows(this.context.id, 'wevtutil', this.context.platform);
  }

  async capture(
    cursor: string | null,
    signal: AbortSignal,
    window?: CaptureWindow,
  ): Promise<CaptureResult> {
    const positions = window ? {} : this.parseCursor(cursor);
    const records: EventRecord[] = [];
    const rejected: SourceProblem[] = [];
    const fullAt: number[] = [];
    let restarted = false;

    for (const log of this.logs) {
      throwIfAborted(signal, `capture of source ${this.context.id}`);
      const alias = LOG_ALIAS[log];
      const after = positions[alias] ?? 0;
      const read = await this.readLog(log, after, signal, window);
      records.push(...read.records);
      rejected.push(...read.rejected);
      if (read.fullAt !== null) fullAt.push(read.fullAt);
      positions[alias] = read.position;

      if (!window && after > 0 && read.records.length + read.rejected.length === 0) {
        if (await this.wasCleared(log, after, signal)) {
          positions[alias] = 0;
          restarted = true;
        }
      }
    }

    const result: CaptureResult = window
      ? windowResult(records, window, fullAt)
      : {
          records,
          cursor: JSON.stringify(positions),
          more: fullAt.length > 0 || restarted,
        };
    if (rejected.length) result.rejected = rejected;
    return result;
  }

  async test(signal: AbortSignal) {
    const logs = this.logs.map((log) => (log === LSM_LOG ? 'LocalSessionManager' : log));
    return diagnose(
      async () => {
        await this.open(signal);
        const records: EventRecord[] = [];
        const rejected: SourceProblem[] = [];
        for (const log of this.logs) {
          const newest = [`/q:${this.query(log, 0)}`, `/c:${TEST_EVENTS}`, '/rd:true'];
          const stdout = await this.run(log, newest, signal);
          const read = this.collect(log, readBatch(stdout, log), 0);
          records.push(...read.records);
          rejected.push(...read.rejected);
        }
        return { records, cursor: null, rejected };
      },
      {
        reached: `wevtutil answered for the ${logs.join(' and ')} log${logs.length > 1 ? 's' : ''}`,
        empty: 'no session event is recorded there yet',
        noun: 'recent session events',
      },
    );
  }

  async close(): Promise<void> {}

  /** Reads the next batch of `log` after EventRecordID `after`, or inside `window`. */
  private async readLog(
    log: EventLogName,
    after: number,
    signal: AbortSignal,
    window?: CaptureWindow,
  ): Promise<LogRead> {
    const query = this.query(log, after, window);
    const stdout = await this.run(log, [`/q:${query}`, `/c:${this.options.batchSize}`], signal);
    const batch = readBatch(stdout, log);
    const read = this.collect(log, batch, after);
    const last = batch.items[batch.items.length - 1];
    if (batch.items.length >= this.options.batchSize && last?.at != null) read.fullAt = last.at;
    this.context.log.debug('event log read', {
      log: LOG_ALIAS[log],
      events: batch.items.length,
      records: read.records.length,
      rejected: read.rejected.length,
    });
    return read;
  }

  /**
   * The records of a batch, its problems, and how far the cursor may move: up to the event
   * before the first one rejected, so that the next capture reads that one again.
   */
  private collect(log: EventLogName, batch: Batch, after: number): LogRead {
    const shown = `wevtutil qe ${log}`;
    const read: LogRead = { records: [], rejected: [], position: after, fullAt: null };
    let blocked = false;
    if (batch.stray) {
      blocked = true;
      read.rejected.push({
        code: 'EBADRESPONSE',
        message: `source ${this.context.id}: ${shown} printed text outside any <Event> element`,
      });
    }
    batch.items.forEach((item, index) => {
      if ('problem' in item) {
        blocked = true;
        const which =
          item.recordId === null
            ? `event ${index + 1} of the batch`
            : `event record ${item.recordId}`;
        read.rejected.push({
          code: 'EBADRECORD',
          message: `source ${this.context.id}: ${shown}, ${which} ${item.problem}`,
        });
        return;
      }
      if (item.record) read.records.push(item.record);
      if (!blocked) read.position = Math.max(read.position, item.recordId);
    });
    return read;
  }

  /**
   * True when the newest event of `log` has a lower EventRecordID than the cursor: the log was
   * cleared, and its ids started again at 1. Warned about once; the log is then read again
   * from its start.
   */
  private async wasCleared(log: EventLogName, after: number, signal: AbortSignal) {
    const stdout = await this.run(log, ['/c:1', '/rd:true'], signal);
    const newest = /<EventRecordID>\s*(\d+)\s*<\/EventRecordID>/.exec(stdout)?.[1];
    if (newest === undefined || Number(newest) >= after) return false;
    this.context.log.warnOnce(
      `windows-events:${this.context.id}:cleared:${LOG_ALIAS[log]}`,
      `the ${log} log was cleared: its event ids started again; reading it from the start`,
      { source: this.context.id, log: LOG_ALIAS[log] },
    );
    return true;
  }

  /** The XPath filter: this log's event ids, after the cursor or inside the window. */
  private query(log: EventLogName, after: number, window?: CaptureWindow): string {
    const ids = EVENT_IDS[log].map((id) => `EventID=${id}`).join(' or ');
    const conditions = [`(${ids})`];
    if (window) {
      // (since, until] in whole milliseconds, whatever the finer fraction an event carries.
      const from = new Date(window.since + 1).toISOString();
      const to = new Date(window.until + 1).toISOString();
      conditions.push(`TimeCreated[@SystemTime>='${from}' and @SystemTime<'${to}']`);
    } else {
      conditions.push(`EventRecordID>${after}`);
      if (after === 0 && this.options.backfillHours !== undefined) {
        const ms = Math.round(this.options.backfillHours * 3_600_000);
        conditions.push(`TimeCreated[timediff(@SystemTime)<=${ms}]`);
      }
    }
    return `*[System[${conditions.join(' and ')}]]`;
  }

  private run(log: EventLogName, extra: readonly string[], signal: AbortSignal) {
    const server = this.options.server ? [`/r:${this.options.server}`] : [];
    const request: CommandRequest = {
      file: 'wevtutil.exe',
      args: ['qe', log, ...extra, '/f:xml', ...server],
      shown: ['wevtutil qe', log, ...server].join(' '),
      encoding: this.options.encoding,
      timeoutMs: this.options.timeoutMs,
      signal,
    };
    return runChecked(this.context, request);
  }

  private parseCursor(cursor: string | null): Positions {
    if (cursor === null) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(cursor);
    } catch {
      parsed = null;
    }
    const valid =
      typeof parsed === 'object' &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      Object.values(parsed).every((v) => Number.isSafeInteger(v) && (v as number) >= 0);
    if (!valid) {
      const shown = cursor.length > 60 ? `${cursor.slice(0, 60)}…` : cursor;
      throw new SourceError(
        'ECURSOR',
        this.context.id,
        `cursor ${JSON.stringify(shown)} is not a set of event record ids by log`,
      );
    }
    return { ...(parsed as Positions) };
  }
}

/**
 * The result of a capture inside a time window. When a batch was full, the agent captures again
 * from the cursor, an epoch-ms time: one millisecond before the last event read, so that events
 * sharing its millisecond are read again rather than lost (the journal drops the repeats).
 */
function windowResult(
  records: EventRecord[],
  window: CaptureWindow,
  fullAt: readonly number[],
): CaptureResult {
  if (fullAt.length === 0) return { records, cursor: null };
  const last = Math.min(...fullAt);
  const next = last - 1 > window.since ? last - 1 : last;
  if (next >= window.until) return { records, cursor: null };
  return { records, cursor: String(next), more: true };
}
