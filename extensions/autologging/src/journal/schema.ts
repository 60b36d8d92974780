/**
 * The journal's tables. Times are epoch milliseconds (UTC). Personal fields exist only as
 * `*_enc` (AES-256-GCM ciphertext) and `*_idx` (keyed blind index); there is no column
 * that could hold them in plain text. `rev` is a journal-wide change sequence: every insert
 * and update takes the next number, so a sink can follow the journal with one cursor.
 *
 * Records live in one table per kind and UTC year (`sessions_2026`, `events_2026`,
 * `host_load_2026`), all in the one database file, so that retention removes a year by
 * dropping its tables: the pages are freed without deleting the rows one by one. A file per
 * year would not do: SQLite in WAL mode does not commit a transaction across attached
 * databases atomically, and a capture must be stored whole or not at all.
 *
 * Version history: 1 had one `sessions`, `events` and `host_load` table (see
 * `migrations.ts`); 2 splits them by year and adds `audit`.
 */
export const SCHEMA_VERSION = 2;

/** The tables that are not split by year. */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job TEXT NOT NULL,
  kind TEXT NOT NULL,
  source TEXT,
  trigger TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  records_in INTEGER NOT NULL DEFAULT 0,
  records_new INTEGER NOT NULL DEFAULT 0,
  records_updated INTEGER NOT NULL DEFAULT 0,
  outcome TEXT NOT NULL,
  error_code TEXT,
  error_message TEXT,
  detail TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS runs_job ON runs (job, started_at);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);

CREATE TABLE IF NOT EXISTS cursors (
  source TEXT PRIMARY KEY,
  cursor TEXT,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS exports (
  day TEXT PRIMARY KEY,
  file TEXT NOT NULL,
  sessions INTEGER NOT NULL,
  events INTEGER NOT NULL,
  host_load INTEGER NOT NULL,
  written_at INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rev INTEGER NOT NULL,
  at INTEGER NOT NULL,
  action TEXT NOT NULL,
  actor_enc BLOB,
  actor_idx TEXT,
  subject TEXT,
  detail TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS audit_rev ON audit (rev);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
`;

/** The record tables that are split by year, by their base name. */
export type YearlyKind = 'sessions' | 'events' | 'host_load';

/** Every yearly kind, in the order `changes()` and `stats()` name them. */
export const YEARLY_KINDS: readonly YearlyKind[] = ['sessions', 'events', 'host_load'];

interface YearlySpec {
  /** The column whose UTC year picks the table. */
  time: string;
  /** Column definitions, one a line; the first word is the column's name. */
  columns: readonly string[];
  /** Index definitions: name suffix and what follows `ON <table>`. */
  indexes: ReadonlyArray<readonly [suffix: string, on: string]>;
}

const YEARLY: Record<YearlyKind, YearlySpec> = {
  sessions: {
    time: 'span_start',
    columns: [
      'id TEXT PRIMARY KEY',
      'source TEXT NOT NULL',
      'natural_key TEXT NOT NULL',
      'rev INTEGER NOT NULL',
      'fingerprint TEXT NOT NULL',
      'key_version INTEGER NOT NULL',
      'user_enc BLOB',
      'user_idx TEXT',
      'domain TEXT',
      'full_name_enc BLOB',
      'full_name_idx TEXT',
      'machine TEXT',
      'delivery_group TEXT',
      'client_name_enc BLOB',
      'client_name_idx TEXT',
      'client_address_enc BLOB',
      'client_address_idx TEXT',
      'client_version TEXT',
      'protocol TEXT',
      'session_type TEXT',
      'start_at INTEGER',
      'end_at INTEGER',
      'logon_duration_ms INTEGER',
      'state TEXT NOT NULL',
      'state_changed_at INTEGER',
      'failure_code INTEGER',
      'failure_reason TEXT',
      'span_start INTEGER NOT NULL',
      'span_end INTEGER',
      'first_seen_at INTEGER NOT NULL',
      'updated_at INTEGER NOT NULL',
    ],
    indexes: [
      ['span_start', '(span_start)'],
      ['open', '(span_start) WHERE span_end IS NULL'],
      ['rev', '(rev)'],
      ['user', '(user_idx)'],
    ],
  },
  events: {
    time: 'at',
    columns: [
      'id TEXT PRIMARY KEY',
      'source TEXT NOT NULL',
      'natural_key TEXT NOT NULL',
      'rev INTEGER NOT NULL',
      'key_version INTEGER NOT NULL',
      'type TEXT NOT NULL',
      'at INTEGER NOT NULL',
      'user_enc BLOB',
      'user_idx TEXT',
      'domain TEXT',
      'machine TEXT',
      'session_key TEXT',
      'client_name_enc BLOB',
      'client_name_idx TEXT',
      'client_address_enc BLOB',
      'client_address_idx TEXT',
      'code INTEGER',
      'detail TEXT',
      'captured_at INTEGER NOT NULL',
    ],
    indexes: [
      ['at', '(at)'],
      ['rev', '(rev)'],
      ['user', '(user_idx)'],
    ],
  },
  host_load: {
    time: 'at',
    columns: [
      'id TEXT PRIMARY KEY',
      'source TEXT NOT NULL',
      'natural_key TEXT NOT NULL',
      'rev INTEGER NOT NULL',
      'host TEXT NOT NULL',
      'at INTEGER NOT NULL',
      'cpu_percent REAL NOT NULL',
      'memory_used INTEGER NOT NULL',
      'memory_total INTEGER NOT NULL',
      'disk_used INTEGER',
      'disk_total INTEGER',
      'processes TEXT',
      'reason TEXT NOT NULL',
      'trigger_code TEXT',
      'captured_at INTEGER NOT NULL',
    ],
    indexes: [
      ['at', '(at)'],
      ['rev', '(rev)'],
    ],
  },
};

/** The column whose UTC year picks the table of `kind`: `span_start` or `at`. */
export function timeColumn(kind: YearlyKind): string {
  return YEARLY[kind].time;
}

/** The column names of `kind`'s tables, in table order. */
export function columnNames(kind: YearlyKind): string[] {
  return YEARLY[kind].columns.map((c) => c.slice(0, c.indexOf(' ')));
}

/** The first and last years a year table can be named for: four digits. */
export const FIRST_YEAR = 1000;
export const LAST_YEAR = 9999;

/**
 * The UTC calendar year of `ms`. Throws `RangeError` for a time outside years 1000 to 9999
 * (or not a number), which no table could be named for.
 */
export function yearOf(ms: number): number {
  const year = new Date(ms).getUTCFullYear();
  if (!(year >= FIRST_YEAR && year <= LAST_YEAR)) {
    throw new RangeError(`the time ${ms} lies outside the years ${FIRST_YEAR} to ${LAST_YEAR}`);
  }
  return year;
}

/** 1 January 00:00 UTC of `year`, in epoch ms. */
export function yearStart(year: number): number {
  return Date.UTC(year, 0, 1);
}

/** The table of `kind` for `year`, e.g. `sessions_2026`. */
export function yearTable(kind: YearlyKind, year: number): string {
  return `${kind}_${year}`;
}

const YEAR_TABLE = /^(sessions|events|host_load)_(\d{4})$/;

/** The kind and year of a year table's name, or null for any other name. */
export function parseYearTable(name: string): { kind: YearlyKind; year: number } | null {
  const match = YEAR_TABLE.exec(name);
  return match ? { kind: match[1] as YearlyKind, year: Number(match[2]) } : null;
}

/** The statements that create the table of `kind` for `year` and its indexes, when missing. */
export function createYearTableSql(kind: YearlyKind, year: number): string {
  const table = yearTable(kind, year);
  const spec = YEARLY[kind];
  const indexes = spec.indexes.map(
    ([suffix, on]) => `CREATE INDEX IF NOT EXISTS ${table}_${suffix} ON ${table} ${on};`,
  );
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (\n  ${spec.columns.join(',\n  ')}\n) STRICT;`,
    ...indexes,
  ].join('\n');
}

/**
 * The statements that (re)define the view named `kind` (`sessions`, `events`, `host_load`)
 * as all of its year tables together. The journal itself reads the year tables, bounded by
 * year; the views are for people and tools that read the file with plain SQL, as they did
 * when each kind was one table. Without any year table the view is empty but has the columns.
 */
export function createViewSql(kind: YearlyKind, years: readonly number[]): string {
  const body =
    years.length > 0
      ? years.map((y) => `SELECT * FROM ${yearTable(kind, y)}`).join(' UNION ALL ')
      : `SELECT ${columnNames(kind)
          .map((c) => `NULL AS ${c}`)
          .join(', ')} WHERE 0`;
  return `DROP VIEW IF EXISTS ${kind};\nCREATE VIEW ${kind} AS ${body};`;
}
