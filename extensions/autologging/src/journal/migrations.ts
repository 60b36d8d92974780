import type { DatabaseSync } from 'node:sqlite';
import {
  YEARLY_KINDS,
  columnNames,
  createViewSql,
  createYearTableSql,
  timeColumn,
  yearOf,
  yearStart,
  yearTable,
  type YearlyKind,
} from './schema.ts';

/**
 * The schema of version 1, as AutoLogging 0.1 created it: one table per record kind for all
 * years. Kept as written then, to test what `migrateFromV1` upgrades; nothing runs it.
 */
export const V1_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  natural_key TEXT NOT NULL,
  rev INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  key_version INTEGER NOT NULL,
  user_enc BLOB,
  user_idx TEXT,
  domain TEXT,
  full_name_enc BLOB,
  full_name_idx TEXT,
  machine TEXT,
  delivery_group TEXT,
  client_name_enc BLOB,
  client_name_idx TEXT,
  client_address_enc BLOB,
  client_address_idx TEXT,
  client_version TEXT,
  protocol TEXT,
  session_type TEXT,
  start_at INTEGER,
  end_at INTEGER,
  logon_duration_ms INTEGER,
  state TEXT NOT NULL,
  state_changed_at INTEGER,
  failure_code INTEGER,
  failure_reason TEXT,
  span_start INTEGER NOT NULL,
  span_end INTEGER,
  first_seen_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS sessions_span_start ON sessions (span_start);
CREATE INDEX IF NOT EXISTS sessions_open ON sessions (span_start) WHERE span_end IS NULL;
CREATE INDEX IF NOT EXISTS sessions_rev ON sessions (rev);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_idx);

CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  natural_key TEXT NOT NULL,
  rev INTEGER NOT NULL,
  key_version INTEGER NOT NULL,
  type TEXT NOT NULL,
  at INTEGER NOT NULL,
  user_enc BLOB,
  user_idx TEXT,
  domain TEXT,
  machine TEXT,
  session_key TEXT,
  client_name_enc BLOB,
  client_name_idx TEXT,
  client_address_enc BLOB,
  client_address_idx TEXT,
  code INTEGER,
  detail TEXT,
  captured_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE INDEX IF NOT EXISTS events_rev ON events (rev);
CREATE INDEX IF NOT EXISTS events_user ON events (user_idx);

CREATE TABLE IF NOT EXISTS host_load (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  natural_key TEXT NOT NULL,
  rev INTEGER NOT NULL,
  host TEXT NOT NULL,
  at INTEGER NOT NULL,
  cpu_percent REAL NOT NULL,
  memory_used INTEGER NOT NULL,
  memory_total INTEGER NOT NULL,
  disk_used INTEGER,
  disk_total INTEGER,
  processes TEXT,
  reason TEXT NOT NULL,
  trigger_code TEXT,
  captured_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS host_load_at ON host_load (at);
CREATE INDEX IF NOT EXISTS host_load_rev ON host_load (rev);

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
`;

/**
 * Upgrades the record tables of a version 1 journal to year tables: for each kind, in one
 * transaction, every row is copied unchanged (id, rev, ciphertext) into the table of its
 * year, the old table is dropped and a view of the same name put in its place. A kind
 * already moved (a migration cut short) is skipped, so running it again finishes the work.
 * Setting the schema version is left to the caller, once this returned. Throws what SQLite
 * throws, or an `Error` when the copied rows do not add up; that kind is then left as it was.
 */
export function migrateFromV1(db: DatabaseSync): void {
  for (const kind of YEARLY_KINDS) {
    db.exec('BEGIN IMMEDIATE');
    try {
      if (isTable(db, kind)) moveToYearTables(db, kind);
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }
}

function isTable(db: DatabaseSync, name: string): boolean {
  const row = db
    .prepare(`SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?`)
    .get(name);
  return row !== undefined;
}

function moveToYearTables(db: DatabaseSync, kind: YearlyKind): void {
  const time = timeColumn(kind);
  const columns = columnNames(kind).join(', ');
  const firstFrom = db.prepare(`SELECT min(${time}) AS t FROM ${kind} WHERE ${time} >= ?`);
  const years: number[] = [];
  let moved = 0;

  // Year by year through the time index, so that years without rows get no table.
  let next = db.prepare(`SELECT min(${time}) AS t FROM ${kind}`).get()?.t;
  while (next !== null && next !== undefined) {
    const year = yearOf(Number(next));
    db.exec(createYearTableSql(kind, year));
    const info = db
      .prepare(
        `INSERT INTO ${yearTable(kind, year)} (${columns}) SELECT ${columns} FROM ${kind}
          WHERE ${time} >= ? AND ${time} < ?`,
      )
      .run(yearStart(year), yearStart(year + 1));
    moved += Number(info.changes);
    years.push(year);
    next = firstFrom.get(yearStart(year + 1))?.t;
  }

  const total = Number(db.prepare(`SELECT count(*) AS n FROM ${kind}`).get()?.n ?? 0);
  if (moved !== total) {
    throw new Error(`${kind}: ${moved} of ${total} rows found a year table`);
  }
  db.exec(`DROP TABLE ${kind};\n${createViewSql(kind, years)}`);
}
