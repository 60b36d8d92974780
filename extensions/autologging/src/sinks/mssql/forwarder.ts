import fs from 'node:fs';
import { AbortedError, sleep, throwIfAborted } from '../../errors.ts';
import type { Journal, JournalChange, RunRow } from '../../journal/journal.ts';
import { silentLogger, type Logger } from '../../log/logger.ts';
import { writeFileAtomic } from '../../platform/files.ts';
import { rowBytes, splitIntoBatches, type BatchLimits } from './batching.ts';
import { RowError, tableSpec, toTargetRow, type SqlValue, type TargetTable } from './columns.ts';
import { MssqlError, safeMessage } from './errors.ts';
import { DEFAULT_BACKOFF, backoffDelay, classifyError, type BackoffPolicy } from './retry.ts';
import type { Batch, BatchResult, ForwarderCursor, Sink } from './sink.ts';

/** What the forwarder reads from the journal. */
export interface ForwarderJournal {
  /** Changed records after revision `afterRev`, in revision order, at most `limit`. */
  changes(afterRev: number, limit: number): JournalChange[];
  /** The journal's latest revision. */
  lastRev(): number;
  /**
   * Runs with an id above `afterId`, in id order, at most `limit`. The journal lists finished
   * runs only, up to the first one still running; the forwarder holds back at a running one
   * in any case.
   */
  runsAfter(afterId: number, limit: number): RunRow[];
}

/** The journal as the forwarder reads it. */
export function journalFeed(
  journal: Pick<Journal, 'changes' | 'lastRev' | 'runsAfter'>,
): ForwarderJournal {
  return {
    changes: (afterRev, limit) => journal.changes(afterRev, limit),
    lastRev: () => journal.lastRev(),
    runsAfter: (afterId, limit) => journal.runsAfter(afterId, limit),
  };
}

/** The forwarder's health, for `autologging status` and the window. */
export interface ForwarderStatus {
  /**
   * `ok`: writing or idle; `retrying`: the last attempt failed, another follows; `stopped`:
   * waits for `resume`.
   */
  state: 'ok' | 'retrying' | 'stopped';
  /** When the current state began (epoch ms). */
  since: number;
  /** Failed attempts in a row. */
  attempts: number;
  /** When the next attempt starts, while retrying. */
  nextAttemptAt: number | null;
  /** The last failure: stable code, SQL Server's number, a message without secrets. */
  lastError: { code: string; number: number | null; message: string; at: number } | null;
  /** When a batch was last stored. */
  lastStoredAt: number | null;
  /** The stored cursor, when known (read from SQL Server, or remembered locally). */
  cursor: ForwarderCursor | null;
  /**
   * How far SQL Server is behind the journal: journal revisions not yet stored (a session
   * changed twice counts twice) and the age of the oldest of them in ms. Null when unknown.
   */
  lag: { records: number; ageMs: number | null } | null;
}

/** What one `forward` call stored. */
export interface ForwardReport {
  batches: number;
  /** Journal records sent. */
  records: number;
  /** Runs sent. */
  runs: number;
  inserted: number;
  updated: number;
  cursor: ForwarderCursor;
}

/** How a `Forwarder` is made; only `journal`, `sink` and `agent` are required. */
export interface ForwarderOptions {
  journal: ForwarderJournal;
  sink: Sink;
  /** The agent's name in the store: the key of its cursor. */
  agent: string;
  /** Default 5000 records and 16 MiB a batch. */
  limits?: Partial<BatchLimits>;
  backoff?: Partial<BackoffPolicy>;
  /** Failed attempts in a row after which `forward` gives up (default: none, until aborted). */
  maxAttempts?: number;
  log?: Logger;
  now?: () => number;
  /** Waits `ms`; rejects with `AbortedError` when `signal` fires. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  /**
   * A small local file holding the last stored cursor. Only for the status: it tells the lag
   * after a restart while SQL Server cannot be reached. The cursor itself lives in SQL Server.
   */
  hintFile?: string;
}

/** Defaults of `ForwarderOptions.limits`. */
export const DEFAULT_LIMITS: BatchLimits = { maxRecords: 5_000, maxBytes: 16 * 1024 * 1024 };

/**
 * Forwards every journal record to a `Sink` once, in batches, and every finished run.
 *
 * The cursor lives in the store, written in the same transaction as each batch's rows. After
 * any failure the forwarder forgets what it believed and reads the cursor again, so a batch
 * whose commit succeeded but whose acknowledgement was lost is not sent twice, and one that
 * was rolled back is sent again. The store also inserts only what it does not hold, so even
 * a cursor that went back (a replaced journal) duplicates nothing.
 *
 * Errors are retried with exponential backoff and jitter (a new connection after socket
 * errors and timeouts); a refused login or a missing permission stops the forwarder until
 * `resume`, so that an account is not locked out by retries. Captures never wait for it.
 */
export class Forwarder {
  readonly #journal: ForwarderJournal;
  readonly #sink: Sink;
  readonly #agent: string;
  readonly #limits: BatchLimits;
  readonly #backoff: BackoffPolicy;
  readonly #maxAttempts: number;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #hintFile: string | undefined;
  #opened = false;
  /** What the store holds, once read; undefined when it must be read again. */
  #stored: ForwarderCursor | null | undefined = undefined;
  /** Where reading the journal resumes. */
  #cursor: ForwarderCursor | null = null;
  #running: Promise<ForwardReport> | null = null;
  #stoppedBy: MssqlError | null = null;
  #status: ForwarderStatus;

  constructor(options: ForwarderOptions) {
    this.#journal = options.journal;
    this.#sink = options.sink;
    this.#agent = options.agent;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#maxAttempts = options.maxAttempts ?? Infinity;
    this.#log = options.log ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms, signal) => sleep(ms, signal, 'forwarding'));
    this.#random = options.random ?? Math.random;
    this.#hintFile = options.hintFile;
    this.#status = {
      state: 'ok',
      since: this.#now(),
      attempts: 0,
      nextAttemptAt: null,
      lastError: null,
      lastStoredAt: null,
      cursor: readHint(this.#hintFile, this.#agent),
      lag: null,
    };
  }

  /** The current status, with the lag measured against the journal now. */
  status(): ForwarderStatus {
    return { ...this.#status, lag: this.#lag() };
  }

  /**
   * Sends everything the journal holds beyond the stored cursor, then resolves with what was
   * stored. Failures are retried until they pass, `signal` fires (`AbortedError`) or
   * `maxAttempts` is reached (the last `MssqlError`). Throws an `MssqlError` with recovery
   * `stop` (`EMSSQLLOGIN`, `EMSSQLPERMISSION`, `EMSSQLSCHEMA`, `EMSSQLDATA`, `EMSSQLTLS`) when
   * it stops, and at once while stopped. Concurrent calls share one pass.
   */
  forward(signal?: AbortSignal): Promise<ForwardReport> {
    if (this.#stoppedBy) return Promise.reject(this.#stoppedBy);
    this.#running ??= this.#forward(signal).finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  /** Leaves the `stopped` state (after settings or permissions were fixed). */
  resume(): void {
    if (!this.#stoppedBy) return;
    this.#stoppedBy = null;
    this.#setState('ok', { attempts: 0, nextAttemptAt: null });
  }

  /** Closes the sink. Never throws. */
  async close(): Promise<void> {
    await this.#closeSink();
  }

  async #forward(signal: AbortSignal | undefined): Promise<ForwardReport> {
    const report: ForwardReport = {
      batches: 0,
      records: 0,
      runs: 0,
      inserted: 0,
      updated: 0,
      cursor: this.#cursor ?? { rev: 0, runsAfter: 0 },
    };
    for (;;) {
      throwIfAborted(signal, 'forwarding to SQL Server');
      try {
        await this.#pass(report, signal);
        this.#recovered();
        return report;
      } catch (error) {
        if (error instanceof AbortedError || signal?.aborted) {
          throw error instanceof AbortedError ? error : new AbortedError('forwarding');
        }
        await this.#failed(error, signal);
      }
    }
  }

  /** One attempt: open when needed, learn the stored cursor, send batches until none is left. */
  async #pass(report: ForwardReport, signal: AbortSignal | undefined): Promise<void> {
    if (!this.#opened) {
      await this.#sink.open(signal);
      this.#opened = true;
    }
    if (this.#stored === undefined) {
      const stored = await this.#sink.readCursor(this.#agent);
      this.#stored = stored;
      this.#cursor = this.#resumeFrom(stored);
    }
    for (;;) {
      throwIfAborted(signal, 'forwarding to SQL Server');
      const next = this.#nextBatch();
      if (!next) return;
      const result = await this.#sink.writeBatch(next.batch, signal);
      this.#stored = next.batch.next;
      this.#cursor = next.batch.next;
      this.#recordStored(next, result, report);
    }
  }

  #recordStored(next: PreparedBatch, result: BatchResult, report: ForwardReport): void {
    this.#recovered();
    report.batches++;
    report.records += next.records;
    report.runs += next.runs;
    report.inserted += result.inserted;
    report.updated += result.updated;
    report.cursor = next.batch.next;
    this.#status = { ...this.#status, lastStoredAt: this.#now(), cursor: next.batch.next };
    this.#log.debug('batch stored', {
      rev: next.batch.next.rev,
      runsAfter: next.batch.next.runsAfter,
      records: next.records,
      runs: next.runs,
      ...result,
    });
    writeHint(this.#hintFile, this.#agent, next.batch.next, this.#now(), this.#log);
  }

  /** Back to `ok` after a success, saying so once when failures came before. */
  #recovered(): void {
    if (this.#status.state === 'retrying') {
      this.#log.info('SQL Server store reachable again', { attempts: this.#status.attempts });
    }
    this.#setState('ok', { attempts: 0, nextAttemptAt: null });
  }

  /** Where to read from, given what the store holds. */
  #resumeFrom(stored: ForwarderCursor | null): ForwarderCursor {
    if (!stored) return { rev: 0, runsAfter: 0 };
    if (stored.rev > this.#journal.lastRev()) {
      // The store has seen revisions this journal never reached: the journal was replaced
      // (restored, or started anew). Sending it all again is safe: stored rows are skipped.
      this.#log.warnOnce(
        'journal-replaced',
        'the SQL Server cursor is ahead of the journal: forwarding this journal from its start',
        { storedRev: stored.rev, journalRev: this.#journal.lastRev() },
      );
      return { rev: 0, runsAfter: 0 };
    }
    return { ...stored };
  }

  /** The next batch after the cursor: changed records first, then finished runs. */
  #nextBatch(): PreparedBatch | null {
    const cursor = this.#cursor!;
    const changes = this.#journal.changes(cursor.rev, this.#limits.maxRecords);
    if (changes.length > 0) {
      const [first] = splitIntoBatches(changes, this.#limits, (c) => rowBytes(c.row));
      const part = first!;
      const rows: Batch['rows'] = {};
      for (const change of part) {
        push(
          rows,
          change.table as TargetTable,
          this.#convert(change.table as TargetTable, change.row),
        );
      }
      const next = { rev: part.at(-1)!.rev, runsAfter: cursor.runsAfter };
      return { batch: this.#batch(rows, next), records: part.length, runs: 0 };
    }

    // A run still going holds back the ones after it, so the cursor never passes an unsent run.
    const runs = this.#journal.runsAfter(cursor.runsAfter, this.#limits.maxRecords);
    const running = runs.findIndex((r) => r.outcome === 'running');
    const ready = running === -1 ? runs : runs.slice(0, running);
    if (ready.length === 0) return null;
    const rows: Batch['rows'] = {
      runs: ready.map((run) => this.#convert('runs', run as unknown as Record<string, unknown>)),
    };
    const next = { rev: cursor.rev, runsAfter: ready.at(-1)!.id };
    return { batch: this.#batch(rows, next), records: 0, runs: ready.length };
  }

  #batch(rows: Batch['rows'], next: ForwarderCursor): Batch {
    return {
      agent: this.#agent,
      expect: this.#stored ?? null,
      next,
      journalRev: this.#journal.lastRev(),
      rows,
    };
  }

  #convert(table: TargetTable, row: Readonly<Record<string, unknown>>): Record<string, SqlValue> {
    const spec = tableSpec(table);
    if (!spec) {
      throw new MssqlError('EMSSQLDATA', `the journal table ${table} has no SQL Server table`);
    }
    try {
      return toTargetRow(spec, row, this.#agent, (column) =>
        this.#log.warnOnce(
          `truncated:${table}.${column}`,
          'a value was longer than its SQL Server column and was cut',
          { table, column },
        ),
      );
    } catch (error) {
      if (!(error instanceof RowError)) throw error;
      throw new MssqlError('EMSSQLDATA', `cannot forward ${error.message}`, {
        recovery: 'stop',
        cause: error,
      });
    }
  }

  /** Classifies a failure, then stops, or waits before the next attempt. */
  async #failed(error: unknown, signal: AbortSignal | undefined): Promise<void> {
    const kind = classifyError(error);
    const message = safeMessage(error);
    const at = this.#now();
    const lastError = { code: kind.code, number: kind.number, message, at };
    const wrapped =
      error instanceof MssqlError
        ? error
        : new MssqlError(kind.code, `forwarding to SQL Server failed: ${message}`, {
            number: kind.number,
            recovery: kind.recovery,
            cause: error,
          });
    this.#stored = undefined;

    if (kind.recovery === 'stop') {
      this.#stoppedBy = wrapped;
      this.#setState('stopped', { lastError, nextAttemptAt: null });
      await this.#closeSink();
      throw wrapped;
    }

    const attempts = this.#status.attempts + 1;
    if (kind.recovery === 'reconnect') await this.#closeSink();
    if (attempts >= this.#maxAttempts) {
      this.#setState('retrying', { attempts, lastError, nextAttemptAt: null });
      throw wrapped;
    }
    const delay = backoffDelay(attempts, this.#backoff, this.#random);
    const sameAsBefore = this.#status.lastError?.code === kind.code && attempts > 1;
    this.#setState('retrying', { attempts, lastError, nextAttemptAt: at + delay });
    const fields = { code: kind.code, number: kind.number, attempts, delayMs: delay, message };
    if (sameAsBefore) this.#log.debug('SQL Server store still failing', fields);
    else this.#log.warn('SQL Server store failed; retrying', fields);
    await this.#sleep(delay, signal);
  }

  async #closeSink(): Promise<void> {
    this.#opened = false;
    try {
      await this.#sink.close();
    } catch {
      // close() must not throw; a broken connection has nothing left to release.
    }
  }

  #setState(state: ForwarderStatus['state'], change: Partial<ForwarderStatus>): void {
    const since = state === this.#status.state ? this.#status.since : this.#now();
    this.#status = { ...this.#status, ...change, state, since };
  }

  #lag(): ForwarderStatus['lag'] {
    const cursor = this.#cursor ?? this.#status.cursor;
    try {
      if (cursor === null) return this.#journal.lastRev() === 0 ? { records: 0, ageMs: 0 } : null;
      return journalLag(this.#journal, cursor.rev, this.#now());
    } catch {
      // The journal may be closed while the agent stops; the lag is then unknown.
      return null;
    }
  }
}

interface PreparedBatch {
  batch: Batch;
  records: number;
  runs: number;
}

function push(rows: Batch['rows'], table: TargetTable, row: Record<string, SqlValue>): void {
  (rows[table] ??= []).push(row);
}

function readHint(file: string | undefined, agent: string): ForwarderCursor | null {
  if (!file) return null;
  try {
    const hint = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<ForwarderCursor> & {
      agent?: string;
    };
    if (hint.agent !== agent) return null;
    if (!Number.isInteger(hint.rev) || !Number.isInteger(hint.runsAfter)) return null;
    return { rev: hint.rev!, runsAfter: hint.runsAfter! };
  } catch {
    // No hint yet, or an unreadable one: the lag stays unknown until SQL Server answers.
    return null;
  }
}

function writeHint(
  file: string | undefined,
  agent: string,
  cursor: ForwarderCursor,
  at: number,
  log: Logger,
): void {
  if (!file) return;
  try {
    writeFileAtomic(file, JSON.stringify({ agent, ...cursor, storedAt: at }) + '\n');
  } catch (error) {
    log.warnOnce('hint-file', 'cannot write the forwarder hint file', {
      file,
      error: safeMessage(error),
    });
  }
}

/**
 * How far a store at revision `rev` is behind `journal`: revisions not stored and the age in
 * ms of the oldest (its capture time). A `rev` beyond the journal means the journal was
 * replaced and counts from 0.
 */
export function journalLag(
  journal: ForwarderJournal,
  rev: number,
  now: number,
): { records: number; ageMs: number | null } {
  const last = journal.lastRev();
  const from = rev <= last ? rev : 0;
  const records = last - from;
  if (records === 0) return { records: 0, ageMs: 0 };
  const oldest = journal.changes(from, 1)[0]?.row;
  const at = Number(oldest?.updated_at ?? oldest?.captured_at ?? Number.NaN);
  return { records, ageMs: Number.isFinite(at) ? Math.max(0, now - at) : null };
}
