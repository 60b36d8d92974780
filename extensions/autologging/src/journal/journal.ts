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
import { migrateFromV1 } from './migrations.ts';
import type { EventRow, HostLoadRow, SessionRow } from './rows.ts';
import {
  SCHEMA,
  SCHEMA_VERSION,
  YEARLY_KINDS,
  createViewSql,
  createYearTableSql,
  parseYearTable,
  timeColumn,
  yearOf,
  yearStart,
  yearTable,
  type YearlyKind,
} from './schema.ts';

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

/**
 * One changed record, as stored, for a sink. `table` names the kind, not the year table that
 * holds it. An audit entry's `id` is its record identity (`auditRecordId`), not its row
 * number.
 */
export interface JournalChange {
  table: 'sessions' | 'events' | 'host_load' | 'audit';
  rev: number;
  row: Record<string, SQLOutputValue>;
}

/** One entry of the audit trail: a decrypt, an export, a settings change. */
export interface AuditEntry {
  /** What was done, e.g. `decrypt`, `export`, `settings`; at most 32 characters in SQL Server. */
  action: string;
  /** Who did it (an account name): personal, so stored encrypted. */
  actor: string | null;
  /** What it was done to, e.g. a day or a setting's name; never a personal value. */
  subject: string | null;
  /** More about it; never a secret or a personal value. */
  detail: string | null;
}

/** What `retain` removed. */
export interface RetainResult {
  /** The years whose tables were dropped, ascending; empty when none was old enough. */
  droppedYears: number[];
}

/** The fewest whole years before the current one that `retain` keeps. */
export const MIN_RETENTION_YEARS = 3;

/**
 * The retention the agent applies unless a setting says otherwise: the current UTC year and
 * the 3 before it. The hook for a `journal.retentionYears` setting.
 */
export const DEFAULT_RETENTION_YEARS = 3;

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

/**
 * The record identity of audit entry `rowId` of the journal whose random id is `journalId`
 * (meta `journal_id`), as 32 hex digits: unique across agents, where row numbers are not.
 * The entry's actor is encrypted with it as the record id (field `user`), so a copy of the
 * row decrypts with its own `id` as `changes()` hands it out.
 */
export function auditRecordId(journalId: string, rowId: number): string {
  return crypto
    .createHash('sha256')
    .update(`${journalId}\0audit\0${rowId}`, 'utf8')
    .digest('hex')
    .slice(0, 32);
}

const TERMINAL: ReadonlySet<SessionState> = new Set(['Terminated', 'Failed']);

/** Year tables by kind, each list ascending. */
type YearLists = Record<YearlyKind, readonly number[]>;

const NO_YEARS: YearLists = { sessions: [], events: [], host_load: [] };

/** What `#locate` reads of a stored row: what an upsert needs, or only that it exists. */
const LOOKUP_COLUMNS: Record<YearlyKind, string> = {
  sessions: 'fingerprint, state_changed_at, first_seen_at',
  events: '1 AS found',
  host_load: '1 AS found',
};

function newLookups(): Record<YearlyKind, Map<number, StatementSync>> {
  return { sessions: new Map(), events: new Map(), host_load: new Map() };
}

/**
 * The embedded journal: a SQLite file (WAL mode) that every capture lands in first, in one
 * transaction. Personal fields are encrypted with the given cipher before they are bound to
 * a statement. Safe to open from several processes: writers wait for each other.
 *
 * Sessions, events and host samples are kept in one table per UTC year (see `schema.ts`),
 * created inside the capture that first needs them, so that `retain` removes a year by
 * dropping its tables. Readers see one journal: every method reads the year tables a range
 * can touch, and a record keeps its identity when its session moves to another year.
 */
export class Journal {
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #cipherOrNull: FieldCipher | null;
  readonly #now: () => number;
  readonly #stmts = new Map<string, StatementSync>();
  /** The year tables as last read, valid while SQLite's schema cookie is `#schemaCookie`. */
  #years: YearLists = NO_YEARS;
  #schemaCookie = -1;
  #cookieStmt: StatementSync | null = null;
  #lookups = newLookups();
  #journalId = '';

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
   * Opens (creating when missing) the journal at `file`, upgrading one written by an older
   * AutoLogging (version 1: one table per kind) to year tables first; see `migrateFromV1`.
   * Throws `JournalError` `EJOURNALOPEN` when the file cannot be opened or is not a journal,
   * `EJOURNALVERSION` when it was written by a newer AutoLogging, `EJOURNALMIGRATE` when the
   * upgrade failed (the file keeps what was not yet moved; opening again resumes). Without a
   * cipher the journal can report runs and counts, but reading or writing records throws
   * `CryptoError` `ENOKEYS`.
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
   * `undefined`). Either all of it is stored or none of it. A session observation older than
   * the stored one is ignored, so an overlapping capture never moves a session back in time.
   * Records of a year `retain` already removed are not stored again. Throws `JournalError`
   * `EJOURNALWRITE` (nothing stored) when a record cannot be stored, one whose time lies
   * outside the years 1000 to 9999 included.
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
      const keptFrom = Number(this.#meta('kept_from_year') ?? '0');
      const now = this.#now();
      for (const record of records) {
        const id = recordId(source, record.kind, record.key);
        if (record.kind === 'session') {
          const change = this.#upsertSession(id, source, record, rev + 1, now, keptFrom);
          if (change === 'unchanged') continue;
          rev++;
          result[change === 'inserted' ? 'new' : 'updated']++;
          if (record.startAt !== null && record.endAt !== null) {
            maxSpan = Math.max(maxSpan, record.endAt - record.startAt);
          }
        } else {
          const year = yearOf(record.at);
          if (year < keptFrom) continue;
          const added =
            record.kind === 'event'
              ? this.#insertEvent(id, source, record, rev + 1, now, year)
              : this.#insertHostLoad(id, source, record, rev + 1, now, year);
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
         ON CONFLICT (source) DO UPDATE SET
            cursor = excluded.cursor, updated_at = excluded.updated_at`,
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
   * The finished runs with an id above `afterId`, in id order, at most `limit`: what a sink
   * forwards next. The list stops before the first run still `running`, so a cursor set to
   * the last id returned never passes a run that has yet to finish; the ones after it follow
   * once it has (or once `interruptStaleRuns` marked it).
   */
  runsAfter(afterId: number, limit: number): RunRow[] {
    return this.#stmt(
      `SELECT * FROM runs
        WHERE id > ?1 AND id < coalesce(
          (SELECT min(id) FROM runs WHERE id > ?1 AND outcome = 'running'), 9223372036854775807)
        ORDER BY id LIMIT ?2`,
    )
      .all(afterId, limit)
      .map(toRun);
  }

  /**
   * Adds an entry to the audit trail, with the next journal revision, so that `changes()`
   * hands it to sinks (table `audit`). The actor is personal: only its ciphertext (field
   * `user`, record id `auditRecordId(journal id, row id)`) and its blind index (the same as a
   * session's user, so the two can be matched) are stored. Throws `CryptoError` `ENOKEYS`
   * for an actor when the journal was opened without keys, `JournalError` `EJOURNALWRITE`
   * when it cannot be stored.
   */
  audit(entry: AuditEntry): void {
    const actor = entry.actor === '' ? null : entry.actor;
    const index = actor === null ? null : this.#cipher.blindIndex('user', actor);
    this.#transaction(() => {
      const rev = Number(this.#meta('rev') ?? '0') + 1;
      const info = this.#stmt(
        `INSERT INTO audit (rev, at, action, actor_idx, subject, detail)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(rev, this.#now(), entry.action, index, entry.subject, entry.detail);
      if (actor !== null) {
        // The ciphertext is bound to the entry's identity, which needs its row number first.
        const rowId = Number(info.lastInsertRowid);
        const sealed = this.#cipher.encrypt(auditRecordId(this.#journalId, rowId), 'user', actor);
        this.#stmt('UPDATE audit SET actor_enc = ? WHERE id = ?').run(sealed, rowId);
      }
      this.#setMeta('rev', String(rev));
    });
  }

  /**
   * The sessions that overlap `range`, ordered by start: those that ended inside or after it
   * and began before its end, and those still open that began before its end. Only the year
   * tables that can hold them are read: from the year of `range.start` less the longest
   * session seen, and for open sessions every year up to the range's end.
   */
  *sessions(range: Range, display: Display = 'pseudonym'): Generator<SessionRow> {
    this.#syncSchema();
    const maxSpan = Number(this.#meta('max_span_ms') ?? '0');
    const first = readYear(range.start - maxSpan);
    const last = readYear(range.end - 1);
    const parts: string[] = [];
    for (const year of this.#years.sessions) {
      if (year > last) break;
      const table = yearTable('sessions', year);
      if (year >= first) {
        parts.push(
          `SELECT * FROM ${table} WHERE span_start >= ?1 AND span_start < ?2 AND span_end >= ?3`,
        );
      }
      parts.push(`SELECT * FROM ${table} WHERE span_end IS NULL AND span_start < ?2`);
    }
    if (parts.length === 0) return;
    const rows = this.#stmt(`${parts.join('\nUNION ALL ')}\nORDER BY span_start, id`).iterate(
      range.start - maxSpan,
      range.end,
      range.start,
    );
    for (const row of rows) yield this.#toSession(row, display);
  }

  /** The events inside `range`, in time order. */
  *events(range: Range, display: Display = 'pseudonym'): Generator<EventRow> {
    const sql = this.#inRange('events', range, '*');
    if (!sql) return;
    const rows = this.#stmt(`${sql}\nORDER BY at, id`).iterate(range.start, range.end);
    for (const row of rows) yield this.#toEvent(row, display);
  }

  /** The host samples inside `range`, in time order. */
  *hostLoad(range: Range): Generator<HostLoadRow> {
    const sql = this.#inRange('host_load', range, '*');
    if (!sql) return;
    const rows = this.#stmt(`${sql}\nORDER BY at, id`).iterate(range.start, range.end);
    for (const row of rows) yield toHostLoad(row);
  }

  /** True when any session, event or host sample touches `range`. */
  hasData(range: Range): boolean {
    const sessions = this.sessions(range);
    try {
      if (!sessions.next().done) return true;
    } finally {
      // Ends the read at once rather than when the generator is collected.
      sessions.return(undefined);
    }
    for (const kind of ['events', 'host_load'] as const) {
      const sql = this.#inRange(kind, range, '1');
      if (sql && this.#stmt(`SELECT EXISTS (${sql}) AS found`).get(range.start, range.end)?.found) {
        return true;
      }
    }
    return false;
  }

  /** The earliest time any record refers to, or null when the journal is empty. */
  earliest(): number | null {
    this.#syncSchema();
    const parts = YEARLY_KINDS.flatMap((kind) => {
      const time = timeColumn(kind);
      return this.#years[kind].map((y) => `SELECT min(${time}) AS t FROM ${yearTable(kind, y)}`);
    });
    if (parts.length === 0) return null;
    const row = this.#stmt(`SELECT min(t) AS t FROM (${parts.join(' UNION ALL ')})`).get();
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
         events = excluded.events, host_load = excluded.host_load,
          written_at = excluded.written_at`,
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
   * and blind index), with their kind as `table` whatever year table holds them, and audit
   * entries with their record identity as `id`. A session updated twice, or moved to another
   * year, appears once, at its latest revision. Read in one snapshot.
   */
  changes(afterRev: number, limit: number): JournalChange[] {
    return this.#snapshot(() => {
      // Each table gives at most `limit` through its rev index; only those are merged.
      const parts = YEARLY_KINDS.flatMap((kind) =>
        this.#years[kind].map(
          (y) =>
            `SELECT * FROM (SELECT '${kind}' AS tbl, ${y} AS year, rev, id
               FROM ${yearTable(kind, y)} WHERE rev > ?1 ORDER BY rev LIMIT ?2)`,
        ),
      );
      parts.push(
        `SELECT * FROM (SELECT 'audit' AS tbl, 0 AS year, rev, id
           FROM audit WHERE rev > ?1 ORDER BY rev LIMIT ?2)`,
      );
      const found = this.#stmt(`${parts.join('\nUNION ALL ')}\nORDER BY rev LIMIT ?2`).all(
        afterRev,
        limit,
      );
      return found.map((r): JournalChange => {
        const rev = Number(r.rev);
        if (r.tbl === 'audit') {
          const row = this.#stmt('SELECT * FROM audit WHERE id = ?').get(r.id as number)!;
          return {
            table: 'audit',
            rev,
            row: { ...row, id: auditRecordId(this.#journalId, Number(row.id)) },
          };
        }
        const kind = r.tbl as YearlyKind;
        const table = yearTable(kind, Number(r.year));
        const row = this.#stmt(`SELECT * FROM ${table} WHERE id = ?`).get(r.id as string)!;
        return { table: kind, rev, row };
      });
    });
  }

  /** The latest journal revision: every change so far has a number up to this. */
  lastRev(): number {
    return Number(this.#meta('rev') ?? '0');
  }

  /** Record counts (all years together) and the size on disk. */
  stats(): JournalStats {
    this.#syncSchema();
    const count = (table: string) =>
      Number(this.#stmt(`SELECT count(*) AS n FROM ${table}`).get()?.n ?? 0);
    const countAll = (kind: YearlyKind) =>
      this.#years[kind].reduce((n, y) => n + count(yearTable(kind, y)), 0);
    const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
    return {
      sessions: countAll('sessions'),
      events: countAll('events'),
      hostLoad: countAll('host_load'),
      runs: count('runs'),
      bytes: size(this.file) + size(`${this.file}-wal`) + size(`${this.file}-shm`),
    };
  }

  /**
   * Removes every year older than the retention, in one transaction: keeps the current UTC
   * year of `now` and the `years` whole years before it (3 on 3 December 2026: 2023 to 2026)
   * and drops the session, event and host sample tables of every year before. Dropping a
   * table frees its pages for reuse without deleting its rows one by one; the file does not
   * shrink. Runs and audit entries from before the first kept year are deleted (few rows,
   * through their time index), and records of a removed year that a later capture brings
   * again are not stored. Throws `JournalError` `ERETENTION` when `years` is not a whole
   * number of at least `MIN_RETENTION_YEARS`, `EJOURNALWRITE` when the change failed (nothing
   * removed).
   */
  retain(years: number, now: number = this.#now()): RetainResult {
    if (!Number.isInteger(years) || years < MIN_RETENTION_YEARS) {
      throw new JournalError(
        'ERETENTION',
        `the journal keeps at least ${MIN_RETENTION_YEARS} whole years before the current ` +
          `one; ${years} is too few`,
      );
    }
    const keepFrom = yearOf(now) - years;
    const dropped = new Set<number>();
    this.#transaction(() => {
      for (const kind of YEARLY_KINDS) {
        const old = this.#years[kind].filter((y) => y < keepFrom);
        if (old.length === 0) continue;
        for (const year of old) {
          this.#db.exec(`DROP TABLE ${yearTable(kind, year)}`);
          dropped.add(year);
        }
        this.#setYears(kind, this.#years[kind].slice(old.length));
      }
      const horizon = yearStart(keepFrom);
      this.#stmt('DELETE FROM runs WHERE started_at < ?').run(horizon);
      this.#stmt('DELETE FROM audit WHERE at < ?').run(horizon);
      if (Number(this.#meta('kept_from_year') ?? '0') < keepFrom) {
        this.#setMeta('kept_from_year', String(keepFrom));
      }
    });
    return { droppedYears: [...dropped].sort((a, b) => a - b) };
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
    if (stored !== undefined && Number(stored) > SCHEMA_VERSION) {
      this.close();
      throw new JournalError(
        'EJOURNALVERSION',
        `the journal ${this.file} has schema version ${stored}; ` +
          `this AutoLogging reads up to ${SCHEMA_VERSION}: update AutoLogging`,
      );
    }
    try {
      if (stored !== undefined && stored !== String(SCHEMA_VERSION)) migrateFromV1(this.#db);
      if (stored !== String(SCHEMA_VERSION) || this.#meta('journal_id') === undefined) {
        this.#inTransaction(() => this.#initialise());
      }
    } catch (error) {
      this.close();
      throw new JournalError(
        'EJOURNALMIGRATE',
        `cannot bring the journal ${this.file} to schema version ${SCHEMA_VERSION}`,
        { cause: error },
      );
    }
    this.#journalId = this.#meta('journal_id')!;
  }

  /** Completes a new or just migrated journal: its views, its random id, its version. */
  #initialise(): void {
    for (const kind of YEARLY_KINDS) {
      const named = this.#stmt('SELECT 1 AS found FROM sqlite_master WHERE name = ?').get(kind);
      if (!named) this.#db.exec(createViewSql(kind, this.#years[kind]));
    }
    if (this.#meta('journal_id') === undefined) {
      this.#setMeta('journal_id', crypto.randomBytes(16).toString('hex'));
    }
    this.#setMeta('schema_version', String(SCHEMA_VERSION));
  }

  #upsertSession(
    id: string,
    source: string,
    s: SessionRecord,
    rev: number,
    now: number,
    keptFrom: number,
  ): 'inserted' | 'updated' | 'unchanged' {
    const spanStart = s.startAt ?? s.stateChangedAt ?? s.endAt ?? now;
    const spanEnd = s.endAt ?? (TERMINAL.has(s.state) ? (s.stateChangedAt ?? spanStart) : null);
    const year = yearOf(spanStart);
    if (year < keptFrom) return 'unchanged';

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
    const stored = this.#locate('sessions', id, year);
    if (stored) {
      if (stored.row.fingerprint === fingerprint) return 'unchanged';
      const storedAt = stored.row.state_changed_at as number | null;
      if (storedAt !== null && s.stateChangedAt !== null && s.stateChangedAt < storedAt) {
        return 'unchanged';
      }
    }

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
      first_seen_at: (stored?.row.first_seen_at as number | undefined) ?? now,
      updated_at: now,
    };
    // Its start became known, or changed, across New Year: the row moves to its new year.
    if (stored && stored.year !== year) {
      this.#stmt(`DELETE FROM ${yearTable('sessions', stored.year)} WHERE id = ?`).run(id);
    }
    const table = this.#ensureYear('sessions', year);
    const columns = Object.keys(values);
    const updates = columns
      .filter((c) => c !== 'id' && c !== 'first_seen_at')
      .map((c) => `${c} = excluded.${c}`)
      .join(', ');
    this.#stmt(
      `INSERT INTO ${table} (${columns.join(', ')})
        VALUES (${columns.map((c) => ':' + c).join(', ')})
       ON CONFLICT (id) DO UPDATE SET ${updates}`,
    ).run(values);
    return stored ? 'updated' : 'inserted';
  }

  #insertEvent(
    id: string,
    source: string,
    e: EventRecord,
    rev: number,
    now: number,
    year: number,
  ): boolean {
    // Events never change: one already stored is not encrypted again only to be ignored.
    if (this.#locate('events', id, year)) return false;
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
    const table = this.#ensureYear('events', year);
    const columns = Object.keys(values);
    const info = this.#stmt(
      `INSERT INTO ${table} (${columns.join(', ')})
        VALUES (${columns.map((c) => ':' + c).join(', ')})
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
    year: number,
  ): boolean {
    if (this.#locate('host_load', id, year)) return false;
    const table = this.#ensureYear('host_load', year);
    const info = this.#stmt(
      `INSERT INTO ${table} (id, source, natural_key, rev, host, at, cpu_percent, memory_used,
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

  /**
   * The year table of `kind` that holds record `id`, and its row's `LOOKUP_COLUMNS`: the
   * table of `year`, where it belongs, is asked first, then the others, newest first.
   */
  #locate(
    kind: YearlyKind,
    id: string,
    year: number,
  ): { year: number; row: Record<string, SQLOutputValue> } | null {
    const years = this.#years[kind];
    if (years.includes(year)) {
      const row = this.#lookup(kind, year).get(id);
      if (row) return { year, row };
    }
    for (let i = years.length - 1; i >= 0; i--) {
      const other = years[i]!;
      if (other === year) continue;
      const row = this.#lookup(kind, other).get(id);
      if (row) return { year: other, row };
    }
    return null;
  }

  /** The statement that finds a row by id in the table of `kind` for `year`. */
  #lookup(kind: YearlyKind, year: number): StatementSync {
    // Kept apart from #stmts: it runs for every record, and a short numeric key is cheaper
    // to find than a built SQL text.
    let stmt = this.#lookups[kind].get(year);
    if (!stmt) {
      stmt = this.#db.prepare(
        `SELECT ${LOOKUP_COLUMNS[kind]} FROM ${yearTable(kind, year)} WHERE id = ?`,
      );
      this.#lookups[kind].set(year, stmt);
    }
    return stmt;
  }

  /**
   * The name of the table of `kind` for `year`, creating it (and redefining the view of all
   * years) when missing. Only inside a write transaction, so that a rolled back capture
   * leaves no table behind.
   */
  #ensureYear(kind: YearlyKind, year: number): string {
    const table = yearTable(kind, year);
    if (this.#years[kind].includes(year)) return table;
    this.#db.exec(createYearTableSql(kind, year));
    this.#setYears(
      kind,
      [...this.#years[kind], year].sort((a, b) => a - b),
    );
    return table;
  }

  /** Records that the year tables of `kind` are now `years`, and redefines its view. */
  #setYears(kind: YearlyKind, years: readonly number[]): void {
    this.#db.exec(createViewSql(kind, years));
    this.#years = { ...this.#years, [kind]: years };
    // Read the schema again at the next call: another table may follow, or a rollback.
    this.#schemaCookie = -1;
  }

  /**
   * The `SELECT <what>` over every year table of `kind` that can hold a time in `range`
   * (bound as ?1 and ?2), joined by UNION ALL; null when there is none.
   */
  #inRange(kind: 'events' | 'host_load', range: Range, what: string): string | null {
    this.#syncSchema();
    const first = readYear(range.start);
    const last = readYear(range.end - 1);
    const parts = this.#years[kind]
      .filter((y) => y >= first && y <= last)
      .map((y) => `SELECT ${what} FROM ${yearTable(kind, y)} WHERE at >= ?1 AND at < ?2`);
    return parts.length === 0 ? null : parts.join('\nUNION ALL ');
  }

  /**
   * Reads the year tables again when the schema changed since they were last read (here, or
   * in another process: SQLite's schema cookie tells). Prepared statements are dropped with
   * them, as those of dropped tables would only fail.
   */
  #syncSchema(): void {
    this.#cookieStmt ??= this.#db.prepare('PRAGMA schema_version');
    const cookie = Number(this.#cookieStmt.get()?.schema_version);
    if (cookie === this.#schemaCookie) return;
    const years: Record<YearlyKind, number[]> = { sessions: [], events: [], host_load: [] };
    for (const row of this.#db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`)
      .all()) {
      const table = parseYearTable(String(row.name));
      if (table) years[table.kind].push(table.year);
    }
    for (const kind of YEARLY_KINDS) years[kind].sort((a, b) => a - b);
    this.#years = years;
    this.#stmts.clear();
    this.#lookups = newLookups();
    this.#schemaCookie = cookie;
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
      `INSERT INTO meta (key, value) VALUES (?, ?)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
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

  /**
   * Runs `work` in one write transaction (waiting for other writers), with the year tables
   * up to date. Errors other than ours become `JournalError` `EJOURNALWRITE`.
   */
  #transaction(work: () => void): void {
    try {
      this.#inTransaction(work);
    } catch (error) {
      if (error instanceof AutoLoggingError) throw error;
      throw new JournalError('EJOURNALWRITE', `writing to the journal ${this.file} failed`, {
        cause: error,
      });
    }
  }

  #inTransaction(work: () => void): void {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#syncSchema();
      work();
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      // Tables created in the transaction are gone again.
      this.#schemaCookie = -1;
      throw error;
    }
  }

  /** Runs `work` in one read transaction: every statement sees the same journal. */
  #snapshot<T>(work: () => T): T {
    this.#db.exec('BEGIN');
    try {
      this.#syncSchema();
      return work();
    } finally {
      this.#db.exec('COMMIT');
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

/**
 * The UTC year of `ms` for choosing the tables a read touches. Unlike `yearOf` it never
 * throws: a time beyond what a `Date` holds falls to the first or last year it can.
 */
function readYear(ms: number): number {
  const bound = 8.64e15;
  return new Date(Math.min(Math.max(ms, -bound), bound)).getUTCFullYear();
}
