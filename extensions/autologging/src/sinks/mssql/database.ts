/**
 * `autologging db init | status | maintain`: each opens its own short-lived connection with
 * the store's settings, does its work and closes it.
 */
import mssql from 'mssql';
import type { ConnectionPool } from 'mssql';
import { silentLogger, type Logger } from '../../log/logger.ts';
import type { TargetTable } from './columns.ts';
import { appliedVersions, ensureSchema, toMssqlError, withPool } from './connection.ts';
import { journalLag, type ForwarderJournal } from './forwarder.ts';
import { planPartitions, type PartitionPlan } from './partition-plan.ts';
import { SCHEMA_VERSION } from './scripts.ts';
import { agentNameOf, secretsOf, type MssqlSettings } from './settings.ts';
import { PROCEDURES, READ_CURSOR_SQL, SPLIT_WOULD_MOVE_ROWS } from './statements.ts';

/** What `initDatabase` did. */
export interface InitReport {
  /** The scripts run, in order; empty when the database was already up to date. */
  applied: Array<{ version: number; name: string }>;
  /** The schema version recorded afterwards. */
  schemaVersion: number;
}

/**
 * Applies the schema scripts the database has not recorded yet, in order, each batch as
 * `sqlcmd` would send it; each script records its version in `autologging.schema_version`.
 * Run again, it applies nothing. `reapply` runs every script again (they are re-runnable).
 * Needs a login in db_owner. Throws `MssqlError`: `EMSSQLLOGIN`, `EMSSQLPERMISSION`,
 * `EMSSQLCONNECTION`, ... with the script and batch that failed.
 */
export async function initDatabase(
  settings: MssqlSettings,
  options: { log?: Logger; reapply?: boolean } = {},
): Promise<InitReport> {
  const log = options.log ?? silentLogger;
  return withPool(settings, log, async (pool) => {
    const report = await ensureSchema(pool, {
      apply: true,
      reapply: options.reapply ?? false,
      secrets: secretsOf(settings),
      log,
    });
    return { applied: report.applied, schemaVersion: report.schemaVersion };
  });
}

/** One partition of the yearly partition function, with its rows per table. */
export interface PartitionStatus {
  /** SQL Server's partition number, from 1. */
  number: number;
  /** Range start (epoch ms, UTC), null for the first partition. */
  from: number | null;
  /** Range end, excluded; null for the last partition. */
  to: number | null;
  /** The calendar year when the partition holds exactly one. */
  year: number | null;
  /** Rows per table (from sys.partitions, which may lag a moment behind). */
  rows: Record<TargetTable, number>;
  total: number;
}

/** The forwarder's position as SQL Server holds it. */
export interface ForwarderPosition {
  agent: string;
  rev: number;
  runsAfter: number;
  /** Batches and records stored so far. */
  batches: number;
  records: number;
  /** When the last batch was stored (epoch ms). */
  storedAt: number;
  /**
   * Journal revisions not in SQL Server yet and the age (ms) of the oldest: measured against
   * the journal when given, else as the journal stood at the last batch (age from then).
   */
  lag: { records: number; ageMs: number | null };
}

/** What `databaseStatus` reports. */
export interface DatabaseStatus {
  /** The highest schema version recorded; null before `db init`. */
  schemaVersion: number | null;
  /** The version this AutoLogging creates. */
  knownVersion: number;
  /** Partition boundaries, ascending (epoch ms). */
  boundaries: number[];
  partitions: PartitionStatus[];
  /** What `maintainDatabase` would do now. */
  plan: PartitionPlan;
  /** Null when this agent has not stored a batch yet. */
  forwarder: ForwarderPosition | null;
}

/**
 * Reads the schema version, every yearly partition with its row counts, the maintenance
 * plan for now, and this agent's forwarder position with its lag (against `journal` when
 * given). Needs EXECUTE on the `autologging` schema. Throws `MssqlError`.
 */
export async function databaseStatus(
  settings: MssqlSettings,
  options: { journal?: ForwarderJournal; now?: () => number; log?: Logger; agent?: string } = {},
): Promise<DatabaseStatus> {
  const log = options.log ?? silentLogger;
  const now = (options.now ?? Date.now)();
  const secrets = secretsOf(settings);
  return withPool(settings, log, async (pool) => {
    const versions = await appliedVersions(pool, secrets);
    const schemaVersion = versions.length ? Math.max(...versions) : null;
    const { boundaries, partitions } =
      schemaVersion === null
        ? { boundaries: [], partitions: [] }
        : await readPartitions(pool, secrets);
    const forwarder =
      schemaVersion === null
        ? null
        : await readPosition(
            pool,
            options.agent ?? agentNameOf(settings),
            now,
            options.journal,
            secrets,
          );
    return {
      schemaVersion,
      knownVersion: SCHEMA_VERSION,
      boundaries,
      partitions,
      plan: planPartitions(boundaries, now, settings.retentionYears),
      forwarder,
    };
  });
}

/** What `maintainDatabase` did. */
export interface MaintenanceReport {
  plan: PartitionPlan;
  /** Boundaries added. */
  split: number[];
  /** Boundaries not added because rows already lie beyond them (adding would move rows). */
  refused: Array<{ boundary: number; reason: string }>;
  /** Boundaries merged away after their years were removed. */
  merged: number[];
  /** The boundaries afterwards. */
  boundaries: number[];
}

/**
 * Runs yearly maintenance for `now` (default: the clock) and `settings.retentionYears`:
 * adds next years' boundaries while their partitions are empty (`autologging.split_year`),
 * then removes the years older than the retention (`autologging.remove_before`: TRUNCATE of
 * whole partitions, then MERGE). A boundary that would move rows is reported in `refused`
 * and left alone. Throws `MssqlError` for any other failure.
 */
export async function maintainDatabase(
  settings: MssqlSettings,
  options: { now?: () => number; log?: Logger } = {},
): Promise<MaintenanceReport> {
  const log = options.log ?? silentLogger;
  const now = (options.now ?? Date.now)();
  const secrets = secretsOf(settings);
  return withPool(settings, log, async (pool) => {
    const before = await readPartitions(pool, secrets);
    const plan = planPartitions(before.boundaries, now, settings.retentionYears);
    const split: number[] = [];
    const refused: MaintenanceReport['refused'] = [];
    for (const boundary of plan.split) {
      try {
        await pool
          .request()
          .input('boundary', mssql.DateTime2(3), new Date(boundary))
          .execute(PROCEDURES.splitYear);
        split.push(boundary);
      } catch (error) {
        const wrapped = toMssqlError(
          error,
          `adding the ${new Date(boundary).getUTCFullYear()} partition`,
          secrets,
        );
        if (wrapped.number !== SPLIT_WOULD_MOVE_ROWS) throw wrapped;
        refused.push({ boundary, reason: wrapped.message });
        log.warn('partition boundary not added: rows already lie beyond it', {
          boundary: new Date(boundary).toISOString(),
        });
      }
    }

    let merged: number[] = [];
    if (plan.clearBefore !== null) {
      try {
        const result = await pool
          .request()
          .input('boundary', mssql.DateTime2(3), new Date(plan.clearBefore))
          .input('retention_years', mssql.Int, settings.retentionYears)
          .input('now', mssql.DateTime2(3), new Date(now))
          .execute<{ boundary: Date }>(PROCEDURES.removeBefore);
        merged = result.recordset.map((r) => r.boundary.getTime());
      } catch (error) {
        throw toMssqlError(error, 'removing years older than the retention', secrets);
      }
    }
    if (split.length || merged.length) {
      log.info('partitions maintained', {
        split: split.map((b) => new Date(b).toISOString()),
        merged: merged.map((b) => new Date(b).toISOString()),
      });
    }
    const after = await readPartitions(pool, secrets);
    return { plan, split, refused, merged, boundaries: after.boundaries };
  });
}

const TABLE_NAMES: readonly TargetTable[] = ['sessions', 'events', 'host_load', 'runs', 'audit'];

async function readPartitions(
  pool: ConnectionPool,
  secrets: readonly string[],
): Promise<{ boundaries: number[]; partitions: PartitionStatus[] }> {
  let recordsets: unknown;
  try {
    recordsets = (await pool.request().execute(PROCEDURES.partitionStatus)).recordsets;
  } catch (error) {
    throw toMssqlError(error, 'reading the partitions', secrets);
  }
  const [bounds = [], rows = []] = recordsets as [
    Array<{ boundary: Date }>?,
    Array<{
      partition_number: number;
      table_name: string;
      row_count: string | number;
      range_from: Date | null;
      range_to: Date | null;
    }>?,
  ];
  const byNumber = new Map<number, PartitionStatus>();
  for (const row of rows) {
    let partition = byNumber.get(row.partition_number);
    if (!partition) {
      const from = row.range_from?.getTime() ?? null;
      const to = row.range_to?.getTime() ?? null;
      partition = {
        number: row.partition_number,
        from,
        to,
        year: from !== null && to !== null ? exactYear(from, to) : null,
        rows: Object.fromEntries(TABLE_NAMES.map((t) => [t, 0])) as Record<TargetTable, number>,
        total: 0,
      };
      byNumber.set(row.partition_number, partition);
    }
    const count = Number(row.row_count);
    if (TABLE_NAMES.includes(row.table_name as TargetTable)) {
      partition.rows[row.table_name as TargetTable] += count;
      partition.total += count;
    }
  }
  return {
    boundaries: bounds.map((b) => b.boundary.getTime()),
    partitions: [...byNumber.values()].sort((a, b) => a.number - b.number),
  };
}

function exactYear(from: number, to: number): number | null {
  const start = new Date(from);
  const isJan1 = (d: Date) =>
    d.getUTCMonth() === 0 && d.getUTCDate() === 1 && d.getTime() % 86_400_000 === 0;
  const end = new Date(to);
  return isJan1(start) && isJan1(end) && end.getUTCFullYear() === start.getUTCFullYear() + 1
    ? start.getUTCFullYear()
    : null;
}

async function readPosition(
  pool: ConnectionPool,
  agent: string,
  now: number,
  journal: ForwarderJournal | undefined,
  secrets: readonly string[],
): Promise<ForwarderPosition | null> {
  let row:
    | {
        journal_rev: string;
        runs_after: string;
        journal_last_rev: string;
        batches: string;
        records: string;
        updated_at: Date;
      }
    | undefined;
  try {
    const result = await pool
      .request()
      .input('agent', mssql.NVarChar(128), agent)
      .query<NonNullable<typeof row>>(READ_CURSOR_SQL);
    row = result.recordset[0];
  } catch (error) {
    throw toMssqlError(error, `reading the forwarder position of ${agent}`, secrets);
  }
  if (!row) return null;
  const rev = Number(row.journal_rev);
  const storedAt = row.updated_at.getTime();
  return {
    agent,
    rev,
    runsAfter: Number(row.runs_after),
    batches: Number(row.batches),
    records: Number(row.records),
    storedAt,
    lag: journal
      ? journalLag(journal, rev, now)
      : {
          records: Math.max(0, Number(row.journal_last_rev) - rev),
          ageMs: Number(row.journal_last_rev) > rev ? Math.max(0, now - storedAt) : 0,
        },
  };
}
