/**
 * The journal's tables. Times are epoch milliseconds (UTC). Personal fields exist only as
 * `*_enc` (AES-256-GCM ciphertext) and `*_idx` (keyed blind index); there is no column
 * that could hold them in plain text. `rev` is a journal-wide change sequence: every insert
 * and update takes the next number, so a sink can follow the journal with one cursor.
 */
export const SCHEMA_VERSION = 1;

export const SCHEMA = `
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
