/**
 * The T-SQL the agent sends, built from the table specs so that column lists are written
 * once. Object names here are the ones `sql/*.sql` creates; a test checks each exists there.
 */
import type { TableSpec } from './columns.ts';

/** The schema that holds every AutoLogging object. */
export const SCHEMA = 'autologging';

/** The yearly partition function (RANGE RIGHT on datetime2(3)). */
export const PARTITION_FUNCTION = 'autologging_year_pf';
/** The partition scheme every partitioned table and index is created on. */
export const PARTITION_SCHEME = 'autologging_year_ps';

/** Procedures the agent calls. */
export const PROCEDURES = {
  splitYear: `${SCHEMA}.split_year`,
  removeBefore: `${SCHEMA}.remove_before`,
  maintain: `${SCHEMA}.maintain`,
  partitionStatus: `${SCHEMA}.partition_status`,
} as const;

/** Each agent's forwarder cursor, written with every batch. */
export const STATE_TABLE = `${SCHEMA}.forwarder_state`;
/** The schema scripts applied; each script adds its own row. */
export const VERSION_TABLE = `${SCHEMA}.schema_version`;

/** The error number `split_year` throws rather than move rows. */
export const SPLIT_WOULD_MOVE_ROWS = 50001;

/** `[name]`, for a column name from the specs (letters, digits and `_` only). */
function quote(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new RangeError(`not a plain column name: ${name}`);
  return `[${name}]`;
}

/** The staging table of `spec` (a temporary table of this connection). */
export function stageName(spec: TableSpec): string {
  return `#stage_${spec.table}`;
}

/**
 * Creates an empty staging table with the target's columns: SELECT INTO copies their types,
 * nullability and collations, so the later joins never meet a collation conflict with
 * tempdb's. A leftover from an earlier batch on this pooled connection is dropped first.
 */
export function createStageSql(spec: TableSpec): string {
  const stage = stageName(spec);
  const columns = spec.columns.map((c) => quote(c.name)).join(', ');
  return [
    `IF OBJECT_ID(N'tempdb..${stage}') IS NOT NULL DROP TABLE ${stage};`,
    `SELECT TOP (0) ${columns} INTO ${stage} FROM ${SCHEMA}.${spec.table};`,
  ].join('\n');
}

/**
 * Moves the staged rows into the table: inserts those whose identity is not stored yet and,
 * for an `upsert` table, first replaces stored rows that the staged ones are newer than.
 * Returns one row: `inserted`, `updated`. Drops the staging table.
 */
export function mergeSql(spec: TableSpec): string {
  const target = `${SCHEMA}.${spec.table}`;
  const stage = stageName(spec);
  const columns = spec.columns.map((c) => quote(c.name));
  const list = columns.join(', ');
  const match = spec.identity.map((c) => `t.${quote(c)} = s.${quote(c)}`).join(' AND ');
  const lines = ['DECLARE @inserted int = 0, @updated int = 0;'];
  if (spec.merge === 'upsert') {
    const set = spec.columns
      .filter((c) => !spec.identity.includes(c.name))
      .map((c) => `t.${quote(c.name)} = s.${quote(c.name)}`)
      .concat('t.[forwarded_at] = SYSUTCDATETIME()')
      .join(', ');
    lines.push(
      `UPDATE t SET ${set}`,
      `FROM ${target} AS t INNER JOIN ${stage} AS s ON ${match}`,
      `WHERE ${spec.newer ?? '1 = 1'};`,
      'SET @updated = @@ROWCOUNT;',
    );
  }
  lines.push(
    `INSERT INTO ${target} (${list})`,
    `SELECT ${columns.map((c) => `s.${c}`).join(', ')} FROM ${stage} AS s`,
    `WHERE NOT EXISTS (SELECT 1 FROM ${target} AS t WHERE ${match});`,
    'SET @inserted = @@ROWCOUNT;',
    `DROP TABLE ${stage};`,
    'SELECT @inserted AS inserted, @updated AS updated;',
  );
  return lines.join('\n');
}

/**
 * Locks this agent's cursor row for the transaction (UPDLOCK, HOLDLOCK: a second writer under
 * the same name waits, then sees the moved cursor) and reads it with this session's id.
 * Parameter: `@agent`. Always returns one row; `journal_rev` is NULL when none is stored.
 */
export const LOCK_CURSOR_SQL = `SELECT @@SPID AS spid, f.journal_rev, f.runs_after
FROM (SELECT 1 AS one) AS x
LEFT JOIN ${STATE_TABLE} AS f WITH (UPDLOCK, HOLDLOCK) ON f.agent = @agent;`;

/** Reads this agent's cursor without locking. Parameter: `@agent`. */
export const READ_CURSOR_SQL = `SELECT journal_rev, runs_after, journal_last_rev, batches, records,
  updated_at
FROM ${STATE_TABLE} WHERE agent = @agent;`;

/**
 * Stores the cursor (inserting the row the first time). Parameters: `@agent`, `@rev`,
 * `@runs_after`, `@journal_last_rev`, `@records`.
 */
export const SAVE_CURSOR_SQL = `UPDATE ${STATE_TABLE}
SET journal_rev = @rev, runs_after = @runs_after, journal_last_rev = @journal_last_rev,
    batches = batches + 1, records = records + @records, updated_at = SYSUTCDATETIME()
WHERE agent = @agent;
IF @@ROWCOUNT = 0
  INSERT INTO ${STATE_TABLE}
    (agent, journal_rev, runs_after, journal_last_rev, batches, records, updated_at)
  VALUES (@agent, @rev, @runs_after, @journal_last_rev, 1, @records, SYSUTCDATETIME());`;

/** The schema versions recorded; no rows before the first script ran. */
export const APPLIED_VERSIONS_SQL = `IF OBJECT_ID(N'${VERSION_TABLE}', N'U') IS NULL
  SELECT TOP (0) CAST(0 AS int) AS version;
ELSE
  SELECT version FROM ${VERSION_TABLE} ORDER BY version;`;
