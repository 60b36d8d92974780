import { TABLES, type SqlValue, type TableSpec, type TargetTable } from './columns.ts';
import { MssqlError } from './errors.ts';
import type { Batch, BatchResult, BatchStep, ForwarderCursor, Sink } from './sink.ts';

/** Where a `MemorySink` can be made to fail. */
export type MemorySinkStep = 'open' | 'read-cursor' | BatchStep;

/** One committed row, as it reached the store. */
export interface Delivery {
  table: TargetTable;
  /** The row's identity columns, joined. */
  key: string;
  rev: number | null;
}

/**
 * A `Sink` held in memory that behaves as the SQL Server one does (a transaction per batch,
 * the cursor check, insert-if-missing, sessions replaced when newer) and fails on command at
 * any step, `after-commit` included: the batch is then stored but the caller hears an error,
 * as when a connection drops before the commit's acknowledgement arrives. For tests.
 */
export class MemorySink implements Sink {
  /** Stored rows by table, keyed by identity. */
  readonly tables = new Map<TargetTable, Map<string, Record<string, SqlValue>>>();
  /** Every row of every committed batch, in order: what a store without de-duplication holds. */
  readonly deliveries: Delivery[] = [];
  readonly cursors = new Map<string, ForwarderCursor>();
  opens = 0;
  closes = 0;
  commits = 0;
  #open = false;
  #failures: Array<{ step: MemorySinkStep; error: unknown; remaining: number; skip: number }> = [];
  #onStep: ((step: MemorySinkStep) => void) | undefined;

  constructor(options: { onStep?: (step: MemorySinkStep) => void } = {}) {
    this.#onStep = options.onStep;
  }

  /** Makes `times` passes through `step` throw `error`, after letting `after` passes go. */
  failAt(step: MemorySinkStep, error: unknown, times = 1, after = 0): void {
    this.#failures.push({ step, error, remaining: times, skip: after });
  }

  /** The stored rows of `table`. */
  rows(table: TargetTable): Array<Record<string, SqlValue>> {
    return [...(this.tables.get(table)?.values() ?? [])];
  }

  async open(): Promise<void> {
    this.#step('open');
    this.#open = true;
    this.opens++;
  }

  async readCursor(agent: string): Promise<ForwarderCursor | null> {
    this.#requireOpen();
    this.#step('read-cursor');
    const cursor = this.cursors.get(agent);
    return cursor ? { ...cursor } : null;
  }

  async writeBatch(batch: Batch): Promise<BatchResult> {
    this.#requireOpen();
    this.#step('before-load');
    const staged = TABLES.map((spec) => ({ spec, rows: batch.rows[spec.table] ?? [] }));
    this.#step('after-load');

    const stored = this.cursors.get(batch.agent) ?? null;
    if (!sameCursor(stored, batch.expect)) {
      throw new MssqlError('EMSSQLCURSOR', 'the stored cursor moved', { recovery: 'retry' });
    }
    const result: BatchResult = { inserted: 0, updated: 0 };
    const changes: Array<() => void> = [];
    for (const { spec, rows } of staged) {
      const table = this.tables.get(spec.table) ?? new Map<string, Record<string, SqlValue>>();
      for (const row of rows) {
        const key = identityKey(spec, row);
        const old = table.get(key);
        if (old && (spec.merge === 'insert' || !isNewer(row, old))) continue;
        result[old ? 'updated' : 'inserted']++;
        changes.push(() => {
          table.set(key, { ...row });
          this.tables.set(spec.table, table);
        });
      }
    }
    this.#step('before-commit');

    for (const change of changes) change();
    for (const { spec, rows } of staged) {
      for (const row of rows) {
        const rev = typeof row.rev === 'number' ? row.rev : null;
        this.deliveries.push({ table: spec.table, key: identityKey(spec, row), rev });
      }
    }
    this.cursors.set(batch.agent, { ...batch.next });
    this.commits++;
    this.#step('after-commit');
    return result;
  }

  async close(): Promise<void> {
    this.#open = false;
    this.closes++;
  }

  #requireOpen(): void {
    if (!this.#open) throw driverError('Connection is closed.', { code: 'ECONNCLOSED' });
  }

  #step(step: MemorySinkStep): void {
    this.#onStep?.(step);
    const failure = this.#failures.find((f) => f.step === step && f.remaining > 0);
    if (!failure) return;
    if (failure.skip > 0) {
      failure.skip--;
      return;
    }
    failure.remaining--;
    if (step !== 'open' && step !== 'read-cursor' && step !== 'after-commit') {
      // The transaction is lost with the connection, as in SQL Server.
      this.#open = !isConnectionError(failure.error);
    }
    throw failure.error;
  }
}

/** An error shaped as `mssql` and `tedious` make them, for tests. */
export function driverError(
  message: string,
  fields: { code?: string; number?: number } = {},
): Error & { code?: string; number?: number } {
  return Object.assign(new Error(message), fields);
}

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ESOCKET' || code === 'ECONNCLOSED' || code === 'ETIMEOUT';
}

function sameCursor(a: ForwarderCursor | null, b: ForwarderCursor | null): boolean {
  if (a === null || b === null) return a === b;
  return a.rev === b.rev && a.runsAfter === b.runsAfter;
}

function identityKey(spec: TableSpec, row: Record<string, SqlValue>): string {
  return spec.identity
    .map((c) => {
      const v = row[c];
      return v instanceof Date ? v.toISOString() : String(v);
    })
    .join('|');
}

function time(value: SqlValue | undefined): number | null {
  return value instanceof Date ? value.getTime() : null;
}

/** The sessions rule of `TABLES`, in JavaScript. */
function isNewer(row: Record<string, SqlValue>, old: Record<string, SqlValue>): boolean {
  const [su, tu] = [time(row.updated_at)!, time(old.updated_at)!];
  const later = su > tu || (su === tu && Number(row.rev) > Number(old.rev));
  const [sc, tc] = [time(row.state_changed_at), time(old.state_changed_at)];
  return later && (sc === null || tc === null || sc >= tc);
}
