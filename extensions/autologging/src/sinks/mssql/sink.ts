import type { SqlValue, TargetTable } from './columns.ts';

/**
 * Where the forwarder stands in the journal: every change up to revision `rev` and every run
 * up to id `runsAfter` has been stored. Kept in the store, in the same transaction as the rows.
 */
export interface ForwarderCursor {
  rev: number;
  runsAfter: number;
}

/** One batch: the rows of one transaction and the cursor it moves. */
export interface Batch {
  /** The agent's name: the key of its cursor. */
  agent: string;
  /**
   * The cursor the store must hold for this batch to apply (null: none stored yet). When it
   * holds another, someone else moved it: the batch is refused and the forwarder re-reads it.
   */
  expect: ForwarderCursor | null;
  /** The cursor stored with the rows. */
  next: ForwarderCursor;
  /** The journal's latest revision when the batch was read: the store's view of the lag. */
  journalRev: number;
  /** Rows by table, already converted to the tables' columns. */
  rows: Partial<Record<TargetTable, Array<Record<string, SqlValue>>>>;
}

/** What one committed batch did. */
export interface BatchResult {
  /** Rows the store did not hold before. */
  inserted: number;
  /** Stored session rows replaced by a newer revision. */
  updated: number;
}

/** The steps of a batch, named for fault injection and tests. */
export type BatchStep = 'before-load' | 'after-load' | 'before-commit' | 'after-commit';

/**
 * A store the forwarder writes to. The lifecycle is `open` → (`readCursor`, `writeBatch`)* →
 * `close`; after a failure the forwarder may `close` and `open` again. Implementations throw
 * what their driver throws, or an `MssqlError`; the forwarder classifies it.
 */
export interface Sink {
  /** Connects (and makes sure the schema is there). */
  open(signal?: AbortSignal): Promise<void>;
  /** The cursor stored for `agent`, or null when it never wrote. */
  readCursor(agent: string): Promise<ForwarderCursor | null>;
  /**
   * In one transaction: checks the stored cursor equals `batch.expect` (else throws an
   * `MssqlError` `EMSSQLCURSOR`), loads the rows into staging, inserts what is not stored yet
   * (session rows replaced when newer), stores `batch.next`, commits.
   */
  writeBatch(batch: Batch, signal?: AbortSignal): Promise<BatchResult>;
  /** Releases the connection. Never throws. */
  close(): Promise<void>;
}
