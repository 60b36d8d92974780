import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  DatabaseSync,
  type SQLInputValue,
  type SQLOutputValue,
  type StatementSync,
} from 'node:sqlite';
import type { FieldCipher, PersonalField } from '../crypto/field-cipher.ts';
import { AutoLoggingError, CryptoError, JournalError } from '../errors.ts';
import type {
  CaptureRecord,
  EventRecord,
  HostLoadRecord,
  ProcessSample,
  SessionRecord,
  SessionState,
  EventType,
} from '../records.ts';
import type { EventRow, HostLoadRow, SessionRow } from './rows.ts';
import { SCHEMA, SCHEMA_VERSION } from './schema.ts';

/** How personal fields are shown to a reader. */
export type Display = 'pseudonym' | 'plain';

/** What one capture changed. */
export interface ApplyResult {
  /** Records the source returned. */
  in: number;
  /** Records the journal did not hold before. */
  new: number;
  /** Session rows whose content changed. */
  updated: number;
}

/** Why a job ran. */
export type Trigger = 'schedule' | 'manual' | 'catch-up' | 'failure';

/** How a job ended. */
export type Outcome = 'running' | 'ok' | 'failed' | 'aborted' | 'interrupted';

/** One row of the `runs` table. */
export interface RunRow {
  id: number;
  job: string;
  kind: string;
  source: string | null;
  trigger: Trigger;
  startedAt: number;
  endedAt: number | null;
  recordsIn: number;
  recordsNew: number;
  recordsUpdated: number;
  outcome: Outcome;
  errorCode: string | null;
  errorMessage: string | null;
}

/** One changed record, as stored, for a sink. */
export interface JournalChange {
  table: 'sessions' | 'events' | 'host_load';
  rev: number;
  row: Record<string, SQLOutputValue>;
}

/** Record counts and file sizes. */
export interface JournalStats {
  sessions: number;
  events: number;
  hostLoad: number;
  runs: number;
  /** Bytes of the database file, its WAL and shared-memory file together. */
  bytes: number;
}

/** A time range `[start, end)` in epoch ms. */
export interface Range {
  start: number;
  end: number;
}

/**
 * Record identity: a hash of the source id, the record kind and its natural key, as 32 hex
 * digits. The same observation captured twice has the same id, so it is stored once.
 */
export function recordId(source: string, kind: CaptureRecord['kind'], key: string): string {
  return crypto
    .createHash('sha256')
    .update(`${source}\0${kind}\0${key}`, 'utf8')
    .digest('hex')
    .slice(0, 32);
}

const TERMINAL: ReadonlySet<SessionState> = new Set(['Terminated', 'Failed']);

/**
 * The embedded journal: a SQLite file (WAL mode) that every capture lands in first, in one
 * transaction. Personal fields are encrypted with the given cipher before they are bound to
 * a statement. Safe to open from several processes: writers wait for each other.
 */
export class Journal {
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #cipherOrNull: FieldCipher | null;
  readonly #now: () => number;
  readonly #stmts = new Map<string, StatementSync>();

  private constructor(
    file: string,
    db: DatabaseSync,
    cipher: FieldCipher | null,
    now: () => number,
  ) {
    this.file = file;
    this.#db = db;
    this.#cipherOrNull = cipher;
    this.#now = now;
  }

  /**
   * Opens (creating when missing) the journal at `file`. Throws `JournalError` `EJOURNALOPEN`
   * when the file cannot be opened or is not a journal, `EJOURNALVERSION` when it was written
   * by a newer AutoLogging. Without a cipher the journal can report runs and counts, but
   * reading or writing records throws `CryptoError` `ENOKEYS`.
   */
  static open(file: string, cipher: FieldCipher | null, now: () => number = Date.now): Journal {
    let db: DatabaseSync;
    try {
      const existed = fs.existsSync(file);
      db = new DatabaseSync(file, { timeout: 15_000 });
      if (!existed && process.platform !== 'win32') fs.chmodSync(file, 0o600);
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
      db.exec(SCHEMA);
    } catch (error) {
      throw new JournalError('EJOURNALOPEN', `cannot open the journal ${file}`, { cause: error });
    }
    const journal = new Journal(file, db, cipher, now);
    journal.#checkVersion();
    return journal;
  }

  /** Closes the database. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /**
   * Stores one capture in one transaction: sessions inserted or updated in place, events and
   * host samples inserted once, and the source's cursor moved to `cursor` (left alone when
   * `undefined`). Either all of it is stored or none of it. A session observation older than the stored one is ignored, so
   * an overlapping capture never moves a session back in time.
   */
  applyCapture(
    source: string,
    records: readonly CaptureRecord[],
    cursor: string | null | undefined,
  ): ApplyResult {
    const result: ApplyResult = { in: records.length, new: 0, updated: 0 };
    this.#transaction(() => {
      let rev = Number(this.#meta('rev') ?? '0');
      let maxSpan = Number(this.#meta('max_span_ms') ?? '0');
      const now = this.#now();
      for (const record of records) {
        const id = recordId(source, record.kind, record.key);
        if (record.kind === 'session') {
          const change = this.#upsertSession(id, source, record, rev + 1, now);
          if (change === 'unchanged') continue;
          rev++;
          result[change === 'inserted' ? 'new' : 'updated']++;
          if (record.startAt !== null && record.endAt !== null) {
            maxSpan = Math.max(maxSpan, record.endAt - record.startAt);
          }
        } else {
          const added =
            record.kind === 'event'
              ? this.#insertEvent(id, source, record, rev + 1, now)
              : this.#insertHostLoad(id, source, record, rev + 1, now);
          if (added) {
            rev++;
            result.new++;
          }
        }
      }
      this.#setMeta('rev', String(rev));
      this.#setMeta('max_span_ms', String(maxSpan));
      if (cursor === undefined) return;
      this.#stmt(
        `INSERT INTO cursors (source, cursor, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
      ).run(source, cursor, now);
    });
    return result;
  }

  /** Where the source's next capture resumes, or null before its first capture. */
  cursor(source: string): string | null {
    const row = this.#stmt('SELECT cursor FROM cursors WHERE source = ?').get(source);
    return (row?.cursor as string | null | undefined) ?? null;
  }

  /** Records the start of a job and returns the run's id. */
  startRun(job: string, kind: string, source: string | null, trigger: Trigger): number {
    const info = this.#stmt(
      `INSERT INTO runs (job, kind, source, trigger, pid, started_at, outcome)
       VALUES (?, ?, ?, ?, ?, ?, 'running')`,
    ).run(job, kind, source, trigger, process.pid, this.#now());
    return Number(info.lastInsertRowid);
  }

  /** Records how a job ended. `errorMessage` must hold no secret and no personal value. */
  finishRun(
    id: number,
    end: {
      outcome: Exclude<Outcome, 'running'>;
      recordsIn?: number;
      recordsNew?: number;
      recordsUpdated?: number;
      errorCode?: string | null;
      errorMessage?: string | null;
      detail?: string | null;
    },
  ): void {
    this.#stmt(
      `UPDATE runs SET ended_at = ?, outcome = ?, records_in = ?, records_new = ?,
         records_updated = ?, error_code = ?, error_message = ?, detail = ? WHERE id = ?`,
    ).run(
      this.#now(),
      end.outcome,
      end.recordsIn ?? 0,
      end.recordsNew ?? 0,
      end.recordsUpdated ?? 0,
      end.errorCode ?? null,
      end.errorMessage ?? null,
      end.detail ?? null,
      id,
    );
  }

  /** Forgets a run that turned out to have nothing worth recording (an idle forward). */
  discardRun(id: number): void {
    this.#stmt(`DELETE FROM runs WHERE id = ? AND outcome = 'running'`).run(id);
  }

  /**
   * Marks runs still `running` whose process is gone (the agent was killed) as
   * `interrupted`; returns how many.
   */
  interruptStaleRuns(isAlive: (pid: number) => boolean): number {
    const stale = this.#stmt(`SELECT id, pid FROM runs WHERE outcome = 'running'`)
      .all()
      .filter((row) => !isAlive(Number(row.pid)));
    for (const row of stale) {
      this.#stmt(
        `UPDATE runs SET outcome = 'interrupted', ended_at = ?, error_code = 'EINTERRUPTED',
           error_message = 'the process running this job ended before it finished' WHERE id = ?`,
      ).run(this.#now(), row.id as number);
    }
    return stale.length;
  }

  /** The latest run of every job. */
  lastRuns(): RunRow[] {
    return this.#stmt(
      `SELECT * FROM runs WHERE id IN (SELECT max(id) FROM runs GROUP BY job) ORDER BY job`,
    )
      .all()
      .map(toRun);
  }

  /** The most recent runs, newest first, optionally of one job or one outcome. */
  recentRuns(limit = 50, filter: { job?: string; outcome?: Outcome } = {}): RunRow[] {
    return this.#stmt(
      `SELECT * FROM runs WHERE (?1 IS NULL OR job = ?1) AND (?2 IS NULL OR outcome = ?2)
       ORDER BY id DESC LIMIT ?3`,
    )
      .all(filter.job ?? null, filter.outcome ?? null, limit)
      .map(toRun);
  }

  /**
   * The sessions that overlap `range`, ordered by start: those that ended inside or after it
   * and began before its end, and those still open that began before its end.
   */
  *sessions(range: Range, display: Display = 'pseudonym'): Generator<SessionRow> {
    const maxSpan = Number(this.#meta('max_span_ms') ?? '0');
    const rows = this.#stmt(
      `SELECT * FROM sessions
        WHERE span_start >= ?1 AND span_start < ?2 AND span_end >= ?3
       UNION ALL
       SELECT * FROM sessions WHERE span_end IS NULL AND span_start < ?2
       ORDER BY span_start, id`,
    ).iterate(range.start - maxSpan, range.end, range.start);
    for (const row of rows) yield this.#toSession(row, display);
  }

  /** The events inside `range`, in time order. */
  *events(range: Range, display: Display = 'pseudonym'): Generator<EventRow> {
    const rows = this.#stmt(
      'SELECT * FROM events WHERE at >= ? AND at < ? ORDER BY at, id',
    ).iterate(range.start, range.end);
    for (const row of rows) yield this.#toEvent(row, display);
  }

  /** The host samples inside `range`, in time order. */
  *hostLoad(range: Range): Generator<HostLoadRow> {
    const rows = this.#stmt(
      'SELECT * FROM host_load WHERE at >= ? AND at < ? ORDER BY at, id',
    ).iterate(range.start, range.end);
    for (const row of rows) yield toHostLoad(row);
  }

  /** True when any session, event or host sample touches `range`. */
  hasData(range: Range): boolean {
    const sessions = this.sessions(range).next();
    if (!sessions.done) return true;
    const row = this.#stmt(
      `SELECT EXISTS (SELECT 1 FROM events WHERE at >= ?1 AND at < ?2)
           OR EXISTS (SELECT 1 FROM host_load WHERE at >= ?1 AND at < ?2) AS found`,
    ).get(range.start, range.end);
    return Number(row?.found) === 1;
  }

  /** The earliest time any record refers to, or null when the journal is empty. */
  earliest(): number | null {
    const row = this.#stmt(
      `SELECT min(t) AS t FROM (SELECT min(span_start) AS t FROM sessions
        UNION ALL SELECT min(at) FROM events UNION ALL SELECT min(at) FROM host_load)`,
    ).get();
    return row?.t == null ? null : Number(row.t);
  }

  /** Remembers that the workbook of `day` was written. */
  recordExport(
    day: string,
    file: string,
    counts: { sessions: number; events: number; hostLoad: number },
  ): void {
    this.#stmt(
      `INSERT INTO exports (day, file, sessions, events, host_load, written_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (day) DO UPDATE SET file = excluded.file, sessions = excluded.sessions,
         events = excluded.events, host_load = excluded.host_load, written_at = excluded.written_at`,
    ).run(day, file, counts.sessions, counts.events, counts.hostLoad, this.#now());
  }

  /** Where and when the workbook of `day` was last written, if ever. */
  exportOf(day: string): { file: string; writtenAt: number } | null {
    const row = this.#stmt('SELECT file, written_at FROM exports WHERE day = ?').get(day);
    return row ? { file: String(row.file), writtenAt: Number(row.written_at) } : null;
  }

  /**
   * The records changed after journal revision `afterRev`, in revision order, at most
   * `limit`: what a sink forwards next. Rows are as stored (personal fields as ciphertext
   * and blind index), with their table. A session updated twice appears once, at its latest
   * revision.
   */
  changes(afterRev: number, limit: number): JournalChange[] {
    const rows = this.#stmt(
      `SELECT * FROM (
         SELECT 'sessions' AS tbl, rev, id FROM sessions WHERE rev > ?1
         UNION ALL SELECT 'events', rev, id FROM events WHERE rev > ?1
         UNION ALL SELECT 'host_load', rev, id FROM host_load WHERE rev > ?1)
       ORDER BY rev LIMIT ?2`,
    ).all(afterRev, limit);
    return rows.map((r) => {
      const table = r.tbl as JournalChange['table'];
      const row = this.#stmt(`SELECT * FROM ${table} WHERE id = ?`).get(r.id as string)!;
      return { table, rev: Number(r.rev), row: row as Record<string, SQLOutputValue> };
    });
  }

  /** The latest journal revision: every change so far has a number up to this. */
  lastRev(): number {
    return Number(this.#meta('rev') ?? '0');
  }

  /** Record counts and the size on disk. */
  stats(): JournalStats {
    const count = (table: string) =>
      Number(this.#stmt(`SELECT count(*) AS n FROM ${table}`).get()?.n ?? 0);
    const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
    return {
      sessions: count('sessions'),
      events: count('events'),
      hostLoad: count('host_load'),
      runs: count('runs'),
      bytes: size(this.file) + size(`${this.file}-wal`) + size(`${this.file}-shm`),
    };
  }

  /** Folds the WAL into the database file and refreshes the query planner's statistics. */
  maintain(): void {
    this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE); PRAGMA optimize;');
  }

  get #cipher(): FieldCipher {
    if (!this.#cipherOrNull) {
      throw new CryptoError('ENOKEYS', 'the journal was opened without keys: records are sealed');
    }
    return this.#cipherOrNull;
  }

  #checkVersion(): void {
    const stored = this.#meta('schema_version');
    if (stored === undefined) {
      this.#setMeta('schema_version', String(SCHEMA_VERSION));
    } else if (Number(stored) > SCHEMA_VERSION) {
      this.close();
      throw new JournalError(
        'EJOURNALVERSION',
        `the journal ${this.file} has schema version ${stored}; ` +
          `this AutoLogging reads up to ${SCHEMA_VERSION}: update AutoLogging`,
      );
    }
  }

  #upsertSession(
    id: string,
    source: string,
    s: SessionRecord,
    rev: number,
    now: number,
  ): 'inserted' | 'updated' | 'unchanged' {
    const fingerprint = this.#cipher.fingerprint(
      JSON.stringify([
        s.user,
        s.domain,
        s.fullName,
        s.machine,
        s.deliveryGroup,
        s.clientName,
        s.clientAddress,
        s.clientVersion,
        s.protocol,
        s.sessionType,
        s.startAt,
        s.endAt,
        s.logonDurationMs,
        s.state,
        s.stateChangedAt,
        s.failureCode,
        s.failureReason,
      ]),
    );
    const stored = this.#stmt(
      'SELECT fingerprint, state_changed_at FROM sessions WHERE id = ?',
    ).get(id);
    if (stored) {
      if (stored.fingerprint === fingerprint) return 'unchanged';
      const storedAt = stored.state_changed_at as number | null;
      if (storedAt !== null && s.stateChangedAt !== null && s.stateChangedAt < storedAt) {
        return 'unchanged';
      }
    }

    const spanStart = s.startAt ?? s.stateChangedAt ?? s.endAt ?? now;
    const spanEnd = s.endAt ?? (TERMINAL.has(s.state) ? (s.stateChangedAt ?? spanStart) : null);
    const values: Record<string, SQLInputValue> = {
      id,
      source,
      natural_key: s.key,
      rev,
      fingerprint,
      key_version: this.#cipher.keyVersion,
      ...this.#personal(id, 'user', s.user, 'user'),
      domain: s.domain,
      ...this.#personal(id, 'fullName', s.fullName, 'full_name'),
      machine: s.machine,
      delivery_group: s.deliveryGroup,
      ...this.#personal(id, 'clientName', s.clientName, 'client_name'),
      ...this.#personal(id, 'clientAddress', s.clientAddress, 'client_address'),
      client_version: s.clientVersion,
      protocol: s.protocol,
      session_type: s.sessionType,
      start_at: s.startAt,
      end_at: s.endAt,
      logon_duration_ms: s.logonDurationMs,
      state: s.state,
      state_changed_at: s.stateChangedAt,
      failure_code: s.failureCode,
      failure_reason: s.failureReason,
      span_start: spanStart,
      span_end: spanEnd,
      first_seen_at: now,
      updated_at: now,
    };
    const columns = Object.keys(values);
    const updates = columns
      .filter((c) => c !== 'id' && c !== 'first_seen_at')
      .map((c) => `${c} = excluded.${c}`)
      .join(', ');
    this.#stmt(
      `INSERT INTO sessions (${columns.join(', ')}) VALUES (${columns.map((c) => ':' + c).join(', ')})
       ON CONFLICT (id) DO UPDATE SET ${updates}`,
    ).run(values);
    return stored ? 'updated' : 'inserted';
  }

  #insertEvent(id: string, source: string, e: EventRecord, rev: number, now: number): boolean {
    // Events never change: one already stored is not encrypted again only to be ignored.
    if (this.#stmt('SELECT 1 FROM events WHERE id = ?').get(id)) return false;
    const values: Record<string, SQLInputValue> = {
      id,
      source,
      natural_key: e.key,
      rev,
      key_version: this.#cipher.keyVersion,
      type: e.type,
      at: e.at,
      ...this.#personal(id, 'user', e.user, 'user'),
      domain: e.domain,
      machine: e.machine,
      session_key: e.sessionKey,
      ...this.#personal(id, 'clientName', e.clientName, 'client_name'),
      ...this.#personal(id, 'clientAddress', e.clientAddress, 'client_address'),
      code: e.code,
      detail: e.detail,
      captured_at: now,
    };
    const columns = Object.keys(values);
    const info = this.#stmt(
      `INSERT INTO events (${columns.join(', ')}) VALUES (${columns.map((c) => ':' + c).join(', ')})
       ON CONFLICT (id) DO NOTHING`,
    ).run(values);
    return Number(info.changes) === 1;
  }

  #insertHostLoad(
    id: string,
    source: string,
    h: HostLoadRecord,
    rev: number,
    now: number,
  ): boolean {
    const info = this.#stmt(
      `INSERT INTO host_load (id, source, natural_key, rev, host, at, cpu_percent, memory_used,
         memory_total, disk_used, disk_total, processes, reason, trigger_code, captured_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ).run(
      id,
      source,
      h.key,
      rev,
      h.host,
      h.at,
      h.cpuPercent,
      h.memoryUsedBytes,
      h.memoryTotalBytes,
      h.diskUsedBytes,
      h.diskTotalBytes,
      h.processes ? JSON.stringify(h.processes) : null,
      h.reason,
      h.triggerCode,
      now,
    );
    return Number(info.changes) === 1;
  }

  /** The `<column>_enc` and `<column>_idx` values of one personal field. */
  #personal(
    id: string,
    field: PersonalField,
    value: string | null,
    column: string,
  ): Record<string, SQLInputValue> {
    if (value === null || value === '') return { [`${column}_enc`]: null, [`${column}_idx`]: null };
    return {
      [`${column}_enc`]: this.#cipher.encrypt(id, field, value),
      [`${column}_idx`]: this.#cipher.blindIndex(field, value),
    };
  }

  #reveal(row: Record<string, unknown>, field: PersonalField, column: string, display: Display) {
    const index = row[`${column}_idx`] as string | null;
    if (index === null) return null;
    if (display === 'pseudonym') return this.#cipher.pseudonym(field, index);
    return this.#cipher.decrypt(row.id as string, field, row[`${column}_enc`] as Uint8Array);
  }

  #toSession(row: Record<string, unknown>, display: Display): SessionRow {
    return {
      id: row.id as string,
      source: row.source as string,
      key: row.natural_key as string,
      user: this.#reveal(row, 'user', 'user', display),
      domain: row.domain as string | null,
      fullName: this.#reveal(row, 'fullName', 'full_name', display),
      machine: row.machine as string | null,
      deliveryGroup: row.delivery_group as string | null,
      clientName: this.#reveal(row, 'clientName', 'client_name', display),
      clientAddress: this.#reveal(row, 'clientAddress', 'client_address', display),
      clientVersion: row.client_version as string | null,
      protocol: row.protocol as string | null,
      sessionType: row.session_type as SessionRow['sessionType'],
      startAt: row.start_at as number | null,
      endAt: row.end_at as number | null,
      logonDurationMs: row.logon_duration_ms as number | null,
      state: row.state as SessionState,
      stateChangedAt: row.state_changed_at as number | null,
      failureCode: row.failure_code as number | null,
      failureReason: row.failure_reason as string | null,
    };
  }

  #toEvent(row: Record<string, unknown>, display: Display): EventRow {
    return {
      id: row.id as string,
      source: row.source as string,
      key: row.natural_key as string,
      type: row.type as EventType,
      at: row.at as number,
      user: this.#reveal(row, 'user', 'user', display),
      domain: row.domain as string | null,
      machine: row.machine as string | null,
      sessionKey: row.session_key as string | null,
      clientName: this.#reveal(row, 'clientName', 'client_name', display),
      clientAddress: this.#reveal(row, 'clientAddress', 'client_address', display),
      code: row.code as number | null,
      detail: row.detail as string | null,
    };
  }

  #meta(key: string): string | undefined {
    return this.#stmt('SELECT value FROM meta WHERE key = ?').get(key)?.value as string | undefined;
  }

  #setMeta(key: string, value: string): void {
    this.#stmt(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ).run(key, value);
  }

  #stmt(sql: string): StatementSync {
    let stmt = this.#stmts.get(sql);
    if (!stmt) {
      stmt = this.#db.prepare(sql);
      this.#stmts.set(sql, stmt);
    }
    return stmt;
  }

  #transaction(work: () => void): void {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      work();
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      if (error instanceof AutoLoggingError) throw error;
      throw new JournalError('EJOURNALWRITE', `writing to the journal ${this.file} failed`, {
        cause: error,
      });
    }
  }
}

function toRun(row: Record<string, unknown>): RunRow {
  return {
    id: Number(row.id),
    job: row.job as string,
    kind: row.kind as string,
    source: row.source as string | null,
    trigger: row.trigger as Trigger,
    startedAt: Number(row.started_at),
    endedAt: row.ended_at == null ? null : Number(row.ended_at),
    recordsIn: Number(row.records_in),
    recordsNew: Number(row.records_new),
    recordsUpdated: Number(row.records_updated),
    outcome: row.outcome as Outcome,
    errorCode: row.error_code as string | null,
    errorMessage: row.error_message as string | null,
  };
}

function toHostLoad(row: Record<string, unknown>): HostLoadRow {
  return {
    id: row.id as string,
    source: row.source as string,
    key: row.natural_key as string,
    host: row.host as string,
    at: Number(row.at),
    cpuPercent: Number(row.cpu_percent),
    memoryUsedBytes: Number(row.memory_used),
    memoryTotalBytes: Number(row.memory_total),
    diskUsedBytes: row.disk_used == null ? null : Number(row.disk_used),
    diskTotalBytes: row.disk_total == null ? null : Number(row.disk_total),
    processes: row.processes ? (JSON.parse(row.processes as string) as ProcessSample[]) : null,
    reason: row.reason as HostLoadRow['reason'],
    triggerCode: row.trigger_code as string | null,
  };
}
