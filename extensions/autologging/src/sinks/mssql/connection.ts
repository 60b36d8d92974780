import mssql from 'mssql';
import type { ConnectionPool } from 'mssql';
import { silentLogger, type Logger } from '../../log/logger.ts';
import { MssqlError, safeMessage } from './errors.ts';
import { classifyError } from './retry.ts';
import { SCHEMA_SCRIPTS, SCHEMA_VERSION, splitBatches, type SchemaScript } from './scripts.ts';
import { poolConfig, secretsOf, type MssqlSettings } from './settings.ts';
import { APPLIED_VERSIONS_SQL } from './statements.ts';

/**
 * Wraps any error once, with what was being done, as an `MssqlError` carrying its class
 * (code, number, recovery). The password is removed from the message; the driver's error is
 * not kept as the cause, so nothing it holds can reach a log.
 */
export function toMssqlError(error: unknown, what: string, secrets: readonly string[]): MssqlError {
  if (error instanceof MssqlError) return error;
  const kind = classifyError(error);
  return new MssqlError(kind.code, `${what}: ${safeMessage(error, secrets)}`, {
    number: kind.number,
    recovery: kind.recovery,
  });
}

/** Where `settings` point, for messages: `server[\instance][:port]/database`. */
export function describeTarget(settings: MssqlSettings): string {
  const instance = settings.instance ? `\\${settings.instance}` : `:${settings.port}`;
  return `${settings.server}${instance}/${settings.database}`;
}

/**
 * Opens a connection pool. Throws an `MssqlError`: `EMSSQLLOGIN` (refused login),
 * `EMSSQLCONNECTION` or `EMSSQLTIMEOUT` (unreachable), `EMSSQLTLS` (untrusted certificate).
 */
export async function openPool(
  settings: MssqlSettings,
  log: Logger = silentLogger,
): Promise<ConnectionPool> {
  const secrets = secretsOf(settings);
  const pool = new mssql.ConnectionPool(poolConfig(settings));
  // An idle connection that breaks is reported here; without a listener it would crash.
  pool.on('error', (error: unknown) =>
    log.warnOnce('pool-error', 'a SQL Server connection failed', {
      error: safeMessage(error, secrets),
    }),
  );
  try {
    await pool.connect();
    return pool;
  } catch (error) {
    await closePool(pool);
    throw toMssqlError(error, `cannot connect to ${describeTarget(settings)}`, secrets);
  }
}

/** Closes a pool, ignoring errors: a broken pool has nothing left to release. */
export async function closePool(pool: ConnectionPool | null): Promise<void> {
  try {
    await pool?.close();
  } catch {
    // Closing a pool whose connections already died can fail; nothing is lost.
  }
}

/** Runs `work` on a new pool, closing it afterwards. */
export async function withPool<T>(
  settings: MssqlSettings,
  log: Logger,
  work: (pool: ConnectionPool) => Promise<T>,
): Promise<T> {
  const pool = await openPool(settings, log);
  try {
    return await work(pool);
  } finally {
    await closePool(pool);
  }
}

/** The schema versions the database has recorded, ascending; empty before any script ran. */
export async function appliedVersions(pool: ConnectionPool, secrets: readonly string[]) {
  try {
    const result = await pool.request().batch<{ version: number }>(APPLIED_VERSIONS_SQL);
    return result.recordset.map((r) => Number(r.version));
  } catch (error) {
    throw toMssqlError(error, 'reading the schema version failed', secrets);
  }
}

/** What applying the schema did. */
export interface SchemaReport {
  /** The scripts run now. */
  applied: Array<{ version: number; name: string }>;
  /** The highest version recorded afterwards. */
  schemaVersion: number;
}

/**
 * Runs `scripts` in order, each batch (split on `GO` lines) as `sqlcmd` would, and checks
 * that each recorded its version. Throws an `MssqlError` naming the script and batch:
 * `EMSSQLPERMISSION` when the login may not create objects.
 */
export async function applyScripts(
  pool: ConnectionPool,
  scripts: readonly SchemaScript[],
  secrets: readonly string[],
  log: Logger,
): Promise<Array<{ version: number; name: string }>> {
  const applied: Array<{ version: number; name: string }> = [];
  for (const script of scripts) {
    const batches = splitBatches(script.text);
    for (const [i, batch] of batches.entries()) {
      try {
        await pool.request().batch(batch);
      } catch (error) {
        throw toMssqlError(error, `${script.name} batch ${i + 1} of ${batches.length}`, secrets);
      }
    }
    if (!(await appliedVersions(pool, secrets)).includes(script.version)) {
      throw new MssqlError(
        'EMSSQLSCHEMA',
        `${script.name} ran but did not record schema version ${script.version}`,
      );
    }
    applied.push({ version: script.version, name: script.name });
    log.info('schema script applied', { script: script.name });
  }
  return applied;
}

/**
 * Makes sure every schema script is recorded: applies the missing ones, or with
 * `apply: false` throws `MssqlError` `EMSSQLSCHEMA` (recovery `stop`) naming them. With
 * `reapply`, runs every script again (each is re-runnable). Warns once when the database has
 * a version newer than this agent knows.
 */
export async function ensureSchema(
  pool: ConnectionPool,
  options: { apply: boolean; reapply?: boolean; secrets: readonly string[]; log: Logger },
): Promise<SchemaReport> {
  const recorded = await appliedVersions(pool, options.secrets);
  const newest = Math.max(0, ...recorded);
  if (newest > SCHEMA_VERSION) {
    options.log.warnOnce('schema-newer', 'the database schema is newer than this AutoLogging', {
      database: newest,
      agent: SCHEMA_VERSION,
    });
  }
  const missing = options.reapply
    ? SCHEMA_SCRIPTS
    : SCHEMA_SCRIPTS.filter((s) => !recorded.includes(s.version));
  if (missing.length === 0) return { applied: [], schemaVersion: newest };
  if (!options.apply) {
    throw new MssqlError(
      'EMSSQLSCHEMA',
      `the database lacks schema scripts ${missing.map((s) => s.name).join(', ')}: ` +
        'run `autologging db init` or the scripts in sql/',
      { recovery: 'stop' },
    );
  }
  const applied = await applyScripts(pool, missing, options.secrets, options.log);
  return { applied, schemaVersion: Math.max(newest, ...applied.map((a) => a.version)) };
}
