/**
 * The SQL Server store: settings, the forwarder that follows the journal, the `mssql` sink,
 * `db init | status | maintain`, and the pure parts (partition plan, batching, retries).
 */
export { mssqlSettings, agentNameOf, type MssqlSettings } from './settings.ts';
export { MssqlError, type Recovery } from './errors.ts';
export {
  Forwarder,
  journalFeed,
  journalLag,
  DEFAULT_LIMITS,
  type ForwardReport,
  type ForwarderJournal,
  type ForwarderOptions,
  type ForwarderStatus,
} from './forwarder.ts';
export type { Batch, BatchResult, BatchStep, ForwarderCursor, Sink } from './sink.ts';
export { MssqlSink, createMssqlForwarder, type MssqlSinkOptions } from './mssql-sink.ts';
export { MemorySink, driverError, type MemorySinkStep } from './memory-sink.ts';
export {
  initDatabase,
  databaseStatus,
  maintainDatabase,
  type InitReport,
  type DatabaseStatus,
  type PartitionStatus,
  type ForwarderPosition,
  type MaintenanceReport,
} from './database.ts';
export {
  planPartitions,
  yearStart,
  MIN_RETENTION_YEARS,
  type PartitionPlan,
} from './partition-plan.ts';
export { splitIntoBatches, rowBytes, type BatchLimits } from './batching.ts';
export { classifyError, backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './retry.ts';
export {
  SCHEMA_VERSION as MSSQL_SCHEMA_VERSION,
  SCHEMA_SCRIPTS as MSSQL_SCHEMA_SCRIPTS,
} from './scripts.ts';
