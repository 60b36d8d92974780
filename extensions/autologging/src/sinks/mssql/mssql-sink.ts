import mssql from 'mssql';
import type { ConnectionPool, ISqlType, Transaction } from 'mssql';
import type { Journal } from '../../journal/journal.ts';
import { silentLogger, type Logger } from '../../log/logger.ts';
import { TABLES, parseType, type SqlValue, type TableSpec } from './columns.ts';
import { closePool, describeTarget, ensureSchema, openPool, toMssqlError } from './connection.ts';
import { MssqlError } from './errors.ts';
import { Forwarder, journalFeed } from './forwarder.ts';
import { agentNameOf, secretsOf, type MssqlSettings } from './settings.ts';
import type { Batch, BatchResult, BatchStep, ForwarderCursor, Sink } from './sink.ts';
import {
  LOCK_CURSOR_SQL,
  READ_CURSOR_SQL,
  SAVE_CURSOR_SQL,
  createStageSql,
  mergeSql,
  stageName,
} from './statements.ts';

/** How an `MssqlSink` is made. */
export interface MssqlSinkOptions {
  log?: Logger;
  /**
   * Called at each step of a batch with the session id holding its transaction; for tests
   * (killing the connection mid-batch) and diagnostics. An error it throws fails the batch.
   */
  onStep?: (step: BatchStep, session: { spid: number }) => void | Promise<void>;
}

/**
 * The SQL Server sink: a pool from the `mssql` package (tedious, no native code). `open`
 * connects and makes sure the schema is there (applying missing scripts when `applySchema`).
 * Each batch is one transaction: lock and check the agent's cursor row, bulk-load every
 * table's rows into a `#stage_*` table, insert what is not stored yet (sessions replaced
 * when newer), store the new cursor, commit. Errors are `MssqlError`s without the password.
 */
export class MssqlSink implements Sink {
  readonly #settings: MssqlSettings;
  readonly #log: Logger;
  readonly #onStep: MssqlSinkOptions['onStep'];
  readonly #secrets: readonly string[];
  #pool: ConnectionPool | null = null;

  constructor(settings: MssqlSettings, options: MssqlSinkOptions = {}) {
    this.#settings = settings;
    this.#log = options.log ?? silentLogger;
    this.#onStep = options.onStep;
    this.#secrets = secretsOf(settings);
  }

  async open(): Promise<void> {
    if (this.#pool) return;
    const pool = await openPool(this.#settings, this.#log);
    try {
      await ensureSchema(pool, {
        apply: this.#settings.applySchema,
        secrets: this.#secrets,
        log: this.#log,
      });
    } catch (error) {
      await closePool(pool);
      throw error;
    }
    this.#pool = pool;
  }

  async readCursor(agent: string): Promise<ForwarderCursor | null> {
    try {
      const result = await this.#requirePool()
        .request()
        .input('agent', mssql.NVarChar(128), agent)
        .query<{ journal_rev: string | number; runs_after: string | number }>(READ_CURSOR_SQL);
      const row = result.recordset[0];
      return row ? { rev: Number(row.journal_rev), runsAfter: Number(row.runs_after) } : null;
    } catch (error) {
      throw toMssqlError(error, `reading the forwarder cursor of ${agent}`, this.#secrets);
    }
  }

  async writeBatch(batch: Batch): Promise<BatchResult> {
    const transaction = new mssql.Transaction(this.#requirePool());
    let open = false;
    try {
      await transaction.begin(mssql.ISOLATION_LEVEL.READ_COMMITTED);
      open = true;
      const spid = await this.#checkCursor(transaction, batch);

      await this.#onStep?.('before-load', { spid });
      const loaded = TABLES.map((spec) => ({ spec, rows: batch.rows[spec.table] ?? [] })).filter(
        (t) => t.rows.length > 0,
      );
      for (const { spec, rows } of loaded) {
        await transaction.request().batch(createStageSql(spec));
        await transaction.request().bulk(bulkTable(spec, rows));
      }
      await this.#onStep?.('after-load', { spid });

      const result: BatchResult = { inserted: 0, updated: 0 };
      for (const { spec } of loaded) {
        const merged = await transaction
          .request()
          .batch<{ inserted: number; updated: number }>(mergeSql(spec));
        result.inserted += Number(merged.recordset[0]?.inserted ?? 0);
        result.updated += Number(merged.recordset[0]?.updated ?? 0);
      }
      await this.#saveCursor(transaction, batch);
      await this.#onStep?.('before-commit', { spid });

      await transaction.commit();
      open = false;
      await this.#onStep?.('after-commit', { spid });
      return result;
    } catch (error) {
      if (open) await transaction.rollback().catch(() => undefined);
      const range = `${batch.expect?.rev ?? 0}..${batch.next.rev}`;
      throw toMssqlError(
        error,
        `storing the batch of revisions ${range} in ${describeTarget(this.#settings)}`,
        this.#secrets,
      );
    }
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = null;
    await closePool(pool);
  }

  /** Locks the agent's cursor row and checks it is where the batch starts; returns the spid. */
  async #checkCursor(transaction: Transaction, batch: Batch): Promise<number> {
    const locked = await transaction
      .request()
      .input('agent', mssql.NVarChar(128), batch.agent)
      .query<{ spid: number; journal_rev: string | null; runs_after: string | null }>(
        LOCK_CURSOR_SQL,
      );
    const row = locked.recordset[0]!;
    const stored =
      row.journal_rev === null
        ? null
        : { rev: Number(row.journal_rev), runsAfter: Number(row.runs_after) };
    const expected = batch.expect;
    const same =
      stored === null || expected === null
        ? stored === expected
        : stored.rev === expected.rev && stored.runsAfter === expected.runsAfter;
    if (!same) {
      throw new MssqlError(
        'EMSSQLCURSOR',
        `the cursor of ${batch.agent} in SQL Server moved ` +
          `(to revision ${stored?.rev ?? 'none'}): ` +
          'another writer uses this agent name, or an earlier batch was stored after all',
        { recovery: 'retry' },
      );
    }
    return Number(row.spid);
  }

  async #saveCursor(transaction: Transaction, batch: Batch): Promise<void> {
    const records = Object.values(batch.rows).reduce((n, rows) => n + (rows?.length ?? 0), 0);
    await transaction
      .request()
      .input('agent', mssql.NVarChar(128), batch.agent)
      .input('rev', mssql.BigInt, batch.next.rev)
      .input('runs_after', mssql.BigInt, batch.next.runsAfter)
      .input('journal_last_rev', mssql.BigInt, batch.journalRev)
      .input('records', mssql.BigInt, records)
      .query(SAVE_CURSOR_SQL);
  }

  #requirePool(): ConnectionPool {
    if (!this.#pool) {
      throw new MssqlError('EMSSQLCONNECTION', 'the SQL Server sink is not open', {
        recovery: 'reconnect',
      });
    }
    return this.#pool;
  }
}

/** The driver's type for a column type of the specs. */
export function driverType(type: string): ISqlType {
  const { base, length } = parseType(type);
  const size = length === -1 ? mssql.MAX : (length ?? undefined);
  switch (base) {
    case 'char':
      return mssql.Char(size);
    case 'varchar':
      return mssql.VarChar(size);
    case 'nvarchar':
      return mssql.NVarChar(size);
    case 'varbinary':
      return mssql.VarBinary(size);
    case 'bigint':
      return mssql.BigInt();
    case 'int':
      return mssql.Int();
    case 'float':
      return mssql.Float();
    case 'datetime2':
      return mssql.DateTime2(3);
    default:
      throw new RangeError(`no driver type for ${type}`);
  }
}

/** The rows of one table as a bulk-load `Table` aimed at its staging table. */
function bulkTable(spec: TableSpec, rows: ReadonlyArray<Record<string, SqlValue>>): mssql.Table {
  const table = new mssql.Table(stageName(spec));
  table.create = false;
  for (const column of spec.columns) {
    table.columns.add(column.name, driverType(column.type), { nullable: column.nullable });
  }
  for (const row of rows) table.rows.add(...spec.columns.map((c) => row[c.name] ?? null));
  return table;
}

/**
 * The forwarder the agent runs for `settings`: the journal's changes and runs into an
 * `MssqlSink`, batches of `batchSize` records and `batchBytes`, under `agentName` (default
 * the host name). `hintFile` (optional) keeps the last stored cursor locally for the status.
 */
export function createMssqlForwarder(
  settings: MssqlSettings,
  journal: Pick<Journal, 'changes' | 'lastRev' | 'runsAfter'>,
  options: { log?: Logger; hintFile?: string } = {},
): Forwarder {
  const log = options.log ?? silentLogger;
  return new Forwarder({
    journal: journalFeed(journal),
    sink: new MssqlSink(settings, { log }),
    agent: agentNameOf(settings),
    limits: { maxRecords: settings.batchSize, maxBytes: settings.batchBytes },
    log,
    ...(options.hintFile === undefined ? {} : { hintFile: options.hintFile }),
  });
}
