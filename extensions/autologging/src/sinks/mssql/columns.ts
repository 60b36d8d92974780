/**
 * The SQL Server tables the forwarder loads, column by column, as `sql/001-schema.sql`
 * creates them (a test holds the two together), and the conversion of a journal row into a
 * row of them: epoch ms become `datetime2(3)` in UTC, ciphertext stays binary, text is cut
 * to the column's length.
 *
 * Identity and aligned keys: every table is partitioned by year on its time column, and SQL
 * Server only lets an index on a partitioned table be aligned (which TRUNCATE ... WITH
 * (PARTITIONS) needs) when its key holds the partition column. So no index can promise "one
 * row per id" across years: the unique keys are (id, time). For events, host samples, runs
 * and audit entries the time never changes for an id, so (id, time) *is* the identity. A
 * session's `span_start` can move (its start becomes known later), so sessions are matched
 * on `id` alone, through the (id, span_start) index, one seek per partition, and an update
 * carries the new `span_start` with it (SQL Server moves that one row to its new year).
 */

/** The tables in the `autologging` schema that records are loaded into. */
export type TargetTable = 'sessions' | 'events' | 'host_load' | 'runs' | 'audit';

/** A value as handed to the driver. */
export type SqlValue = string | number | Date | Buffer | null;

/** One loaded column. */
export interface ColumnSpec {
  name: string;
  /** The T-SQL type exactly as the schema script declares it, e.g. `nvarchar(256)`. */
  type: string;
  nullable: boolean;
  /** The input row's key it comes from; default the column's name; `$agent` the agent's name. */
  from?: string;
}

/** One loaded table. */
export interface TableSpec {
  table: TargetTable;
  /** The partition column. */
  time: string;
  /** The columns that find a stored row: how a record is known again. */
  identity: readonly string[];
  /**
   * `upsert`: a stored row is replaced when the incoming one is newer (`newer`, a T-SQL
   * condition on `s`, the incoming row, and `t`, the stored one); `insert`: a row is inserted
   * once and never changed.
   */
  merge: 'upsert' | 'insert';
  newer?: string;
  columns: readonly ColumnSpec[];
}

const col = (name: string, type: string, nullable: boolean, from?: string): ColumnSpec =>
  from === undefined ? { name, type, nullable } : { name, type, nullable, from };

const ID = col('id', 'char(32)', false);
const SOURCE = col('source', 'nvarchar(64)', false);
const NATURAL_KEY = col('natural_key', 'nvarchar(1000)', false);
const REV = col('rev', 'bigint', false);
const KEY_VERSION = col('key_version', 'int', false);

/** A personal field: ciphertext and blind index; never plain text. */
const personal = (name: string) => [
  col(`${name}_enc`, 'varbinary(max)', true),
  col(`${name}_idx`, 'char(32)', true),
];

/** Every loaded table, in the order a batch loads them. */
export const TABLES: readonly TableSpec[] = [
  {
    table: 'sessions',
    time: 'span_start',
    identity: ['id'],
    merge: 'upsert',
    // A session row moves forward only: a later capture (updated_at), or the same capture's
    // later revision; and never back to an older state, as the journal itself refuses.
    newer:
      '(s.updated_at > t.updated_at OR (s.updated_at = t.updated_at AND s.rev > t.rev)) AND ' +
      '(s.state_changed_at IS NULL OR t.state_changed_at IS NULL OR ' +
      's.state_changed_at >= t.state_changed_at)',
    columns: [
      ID,
      SOURCE,
      NATURAL_KEY,
      REV,
      KEY_VERSION,
      ...personal('user'),
      col('domain', 'nvarchar(256)', true),
      ...personal('full_name'),
      col('machine', 'nvarchar(256)', true),
      col('delivery_group', 'nvarchar(256)', true),
      ...personal('client_name'),
      ...personal('client_address'),
      col('client_version', 'nvarchar(64)', true),
      col('protocol', 'nvarchar(32)', true),
      col('session_type', 'varchar(16)', true),
      col('start_at', 'datetime2(3)', true),
      col('end_at', 'datetime2(3)', true),
      col('logon_duration_ms', 'bigint', true),
      col('state', 'varchar(32)', false),
      col('state_changed_at', 'datetime2(3)', true),
      col('failure_code', 'bigint', true),
      col('failure_reason', 'nvarchar(1000)', true),
      col('span_start', 'datetime2(3)', false),
      col('span_end', 'datetime2(3)', true),
      col('first_seen_at', 'datetime2(3)', false),
      col('updated_at', 'datetime2(3)', false),
    ],
  },
  {
    table: 'events',
    time: 'at',
    identity: ['id', 'at'],
    merge: 'insert',
    columns: [
      ID,
      SOURCE,
      NATURAL_KEY,
      REV,
      KEY_VERSION,
      col('type', 'varchar(16)', false),
      col('at', 'datetime2(3)', false),
      ...personal('user'),
      col('domain', 'nvarchar(256)', true),
      col('machine', 'nvarchar(256)', true),
      col('session_key', 'nvarchar(256)', true),
      ...personal('client_name'),
      ...personal('client_address'),
      col('code', 'bigint', true),
      col('detail', 'nvarchar(2000)', true),
      col('captured_at', 'datetime2(3)', false),
    ],
  },
  {
    table: 'host_load',
    time: 'at',
    identity: ['id', 'at'],
    merge: 'insert',
    columns: [
      ID,
      SOURCE,
      NATURAL_KEY,
      REV,
      col('host', 'nvarchar(256)', false),
      col('at', 'datetime2(3)', false),
      col('cpu_percent', 'float', false),
      col('memory_used', 'bigint', false),
      col('memory_total', 'bigint', false),
      col('disk_used', 'bigint', true),
      col('disk_total', 'bigint', true),
      col('processes', 'nvarchar(max)', true),
      col('reason', 'varchar(16)', false),
      col('trigger_code', 'varchar(64)', true),
      col('captured_at', 'datetime2(3)', false),
    ],
  },
  {
    table: 'runs',
    time: 'started_at',
    identity: ['agent', 'run_id', 'started_at'],
    merge: 'insert',
    columns: [
      col('agent', 'nvarchar(128)', false, '$agent'),
      col('run_id', 'bigint', false, 'id'),
      col('job', 'nvarchar(200)', false),
      col('kind', 'varchar(32)', false),
      col('source', 'nvarchar(64)', true),
      col('triggered_by', 'varchar(16)', false, 'trigger'),
      col('started_at', 'datetime2(3)', false, 'startedAt'),
      col('ended_at', 'datetime2(3)', true, 'endedAt'),
      col('records_in', 'bigint', false, 'recordsIn'),
      col('records_new', 'bigint', false, 'recordsNew'),
      col('records_updated', 'bigint', false, 'recordsUpdated'),
      col('outcome', 'varchar(16)', false),
      col('error_code', 'varchar(64)', true, 'errorCode'),
      col('error_message', 'nvarchar(2000)', true, 'errorMessage'),
    ],
  },
  {
    table: 'audit',
    time: 'at',
    identity: ['id', 'at'],
    merge: 'insert',
    columns: [
      ID,
      col('agent', 'nvarchar(128)', false, '$agent'),
      REV,
      col('at', 'datetime2(3)', false),
      col('action', 'varchar(32)', false),
      ...personal('actor'),
      col('subject', 'nvarchar(400)', true),
      col('detail', 'nvarchar(2000)', true),
    ],
  },
];

/** The spec of `table`, or undefined for a name that is not a loaded table. */
export function tableSpec(table: string): TableSpec | undefined {
  return TABLES.find((t) => t.table === table);
}

/** A column type split into its base name and length (`max` as -1, none as null). */
export interface ParsedType {
  base: string;
  length: number | null;
}

/** Parses `nvarchar(256)`, `varbinary(max)`, `datetime2(3)`, `bigint`. */
export function parseType(type: string): ParsedType {
  const match = /^([a-z0-9]+)(?:\((max|\d+)\))?$/i.exec(type.trim());
  if (!match) throw new RangeError(`not a column type: ${type}`);
  const base = match[1]!.toLowerCase();
  const size = match[2];
  if (size === undefined || base === 'datetime2') return { base, length: null };
  return { base, length: size.toLowerCase() === 'max' ? -1 : Number(size) };
}

/** Why a row could not be converted; the message names the table, column and record. */
export class RowError extends Error {
  readonly column: string;

  constructor(table: string, column: string, record: string, problem: string) {
    super(`${table}.${column} of record ${record}: ${problem}`);
    this.name = 'RowError';
    this.column = column;
  }
}

/**
 * Converts one input row (a journal row as stored, or a run) into the values of `spec`'s
 * columns. Text longer than its column is cut (reported through `onTruncate`, once per call),
 * except in identity columns, where that and a missing NOT NULL value throw `RowError`.
 */
export function toTargetRow(
  spec: TableSpec,
  input: Readonly<Record<string, unknown>>,
  agent: string,
  onTruncate?: (column: string) => void,
): Record<string, SqlValue> {
  const record = String(input.id ?? '?');
  const row: Record<string, SqlValue> = {};
  for (const column of spec.columns) {
    const key = column.from ?? column.name;
    const raw = key === '$agent' ? agent : input[key];
    const fail = (problem: string) => new RowError(spec.table, column.name, record, problem);
    if (raw === null || raw === undefined) {
      if (!column.nullable) throw fail('missing, and the column is NOT NULL');
      row[column.name] = null;
      continue;
    }
    row[column.name] = convert(column, raw, spec.identity.includes(column.name), fail, onTruncate);
  }
  return row;
}

function convert(
  column: ColumnSpec,
  raw: unknown,
  identity: boolean,
  fail: (problem: string) => RowError,
  onTruncate?: (column: string) => void,
): SqlValue {
  const { base, length } = parseType(column.type);
  switch (base) {
    case 'datetime2': {
      const ms = Number(raw);
      if (!Number.isFinite(ms)) throw fail(`not a time: ${typeof raw}`);
      return new Date(ms);
    }
    case 'bigint':
    case 'int':
    case 'float': {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw fail(`not a number: ${typeof raw}`);
      return base === 'float' ? n : Math.trunc(n);
    }
    case 'varbinary': {
      if (!(raw instanceof Uint8Array)) throw fail(`not binary: ${typeof raw}`);
      return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    }
    default: {
      const text = String(raw);
      if (length === null || length < 0 || text.length <= length) return text;
      if (identity) throw fail(`longer than ${length} characters`);
      onTruncate?.(column.name);
      return cut(text, length);
    }
  }
}

/** The first `length` UTF-16 units of `text`, never ending inside a surrogate pair. */
function cut(text: string, length: number): string {
  const head = text.slice(0, length);
  const last = head.charCodeAt(head.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? head.slice(0, -1) : head;
}
