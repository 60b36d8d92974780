import os from 'node:os';
import type { config as PoolConfig } from 'mssql';
import { z } from 'zod';
import { Secret } from '../../crypto/secret.ts';
import { MIN_RETENTION_YEARS } from './partition-plan.ts';

const wholeNumber = (option: string, min: number, max: number, unit = '') =>
  z
    .number({ error: `${option} must be a number${unit}` })
    .int({ error: `${option} must be a whole number${unit}` })
    .min(min, { error: `${option} must be at least ${min}${unit}` })
    .max(max, { error: `${option} must be at most ${max}${unit}` });

const text = (option: string, max: number) =>
  z
    .string({ error: `${option} must be text` })
    .trim()
    .min(1, { error: `${option} must not be empty` })
    .max(max, { error: `${option} must be at most ${max} characters` });

/** The password, wrapped as soon as it is read so that no log line or error can show it. */
const password = z
  .string({ error: 'password must be text' })
  .min(1, { error: 'password must not be empty' })
  .transform((value) => new Secret(Buffer.from(value, 'utf8')));

const common = {
  /** Host name or address of the SQL Server. */
  server: text('server', 253),
  /** TCP port; ignored when `instance` is set (SQL Server Browser then gives the port). */
  port: wholeNumber('port', 1, 65_535).default(1433),
  /** A named instance such as `SQLEXPRESS`, resolved through SQL Server Browser (UDP 1434). */
  instance: text('instance', 128).optional(),
  database: text('database', 128),
  /** TLS for the whole connection. */
  encrypt: z.boolean({ error: 'encrypt must be true or false' }).default(true),
  /** Accept a certificate that does not chain to a trusted root (a self-signed one). */
  trustServerCertificate: z
    .boolean({ error: 'trustServerCertificate must be true or false' })
    .default(false),
  connectTimeoutMs: wholeNumber('connectTimeoutMs', 1_000, 300_000, ' of milliseconds').default(
    15_000,
  ),
  requestTimeoutMs: wholeNumber('requestTimeoutMs', 1_000, 3_600_000, ' of milliseconds').default(
    300_000,
  ),
  /** Most records in one batch (one transaction). */
  batchSize: wholeNumber('batchSize', 1, 100_000).default(5_000),
  /** Most bytes of record data in one batch; a single larger record still goes alone. */
  batchBytes: wholeNumber('batchBytes', 65_536, 268_435_456, ' of bytes').default(16_777_216),
  /** Whole years kept before the current one; older yearly partitions are removed. */
  retentionYears: wholeNumber('retentionYears', MIN_RETENTION_YEARS, 100, ' of years').default(
    MIN_RETENTION_YEARS,
  ),
  /**
   * This agent's name in SQL Server: the key of its cursor in `forwarder_state` and of its
   * `runs` rows. Default: the host name. Two agents must never share one.
   */
  agentName: text('agentName', 128).optional(),
  /** Apply missing schema scripts when connecting (needs a login allowed to create objects). */
  applySchema: z.boolean({ error: 'applySchema must be true or false' }).default(true),
};

const sqlLogin = z.strictObject({
  ...common,
  authentication: z.literal('sql'),
  user: text('user', 128),
  password,
});

const windowsLogin = z.strictObject({
  ...common,
  authentication: z.literal('windows'),
  /** NetBIOS or DNS name of the account's domain (NTLM). */
  domain: text('domain', 255),
  user: text('user', 128),
  password,
});

/**
 * The SQL Server store's settings, checked once at start-up with no I/O. `authentication` is
 * `'sql'` (a SQL Server login: `user`, `password`) or `'windows'` (NTLM: `domain`, `user`,
 * `password`). Defaults: `port` 1433, `encrypt` true, `trustServerCertificate` false,
 * `connectTimeoutMs` 15000, `requestTimeoutMs` 300000, `batchSize` 5000, `batchBytes` 16 MiB,
 * `retentionYears` 3 (at least 3), `applySchema` true, `agentName` the host name. The
 * password comes out wrapped in a `Secret`. Unknown keys are rejected.
 */
export const mssqlSettings = z.discriminatedUnion('authentication', [sqlLogin, windowsLogin], {
  error: 'authentication must be "sql" or "windows"',
});

/** Validated SQL Server settings, defaults filled in. */
export type MssqlSettings = z.output<typeof mssqlSettings>;

/** The name this agent writes under: `agentName`, else the host name. */
export function agentNameOf(settings: MssqlSettings): string {
  return settings.agentName ?? os.hostname().slice(0, 128);
}

/**
 * The `mssql` pool configuration for `settings`. The password is read from its wrapper here,
 * just before the pool is made; the returned object must not be logged.
 */
export function poolConfig(settings: MssqlSettings): PoolConfig {
  const login: Partial<PoolConfig> =
    settings.authentication === 'sql'
      ? { user: settings.user, password: settings.password.reveal().toString('utf8') }
      : {
          authentication: {
            type: 'ntlm',
            options: {
              domain: settings.domain,
              userName: settings.user,
              password: settings.password.reveal().toString('utf8'),
            },
          },
        };
  return {
    server: settings.server,
    ...(settings.instance ? {} : { port: settings.port }),
    database: settings.database,
    connectionTimeout: settings.connectTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    ...login,
    options: {
      encrypt: settings.encrypt,
      trustServerCertificate: settings.trustServerCertificate,
      ...(settings.instance ? { instanceName: settings.instance } : {}),
      appName: 'AutoLogging',
      useUTC: true,
      // SET XACT_ABORT ON for every session: any error rolls the whole batch back.
      abortTransactionOnError: true,
      // The driver's own silent retries of login errors would hide them from the status.
      maxRetriesOnTransientErrors: 0,
    },
    pool: { min: 0, max: 2, idleTimeoutMillis: 60_000 },
  };
}

/** The strings that must never reach a log line or an error message. */
export function secretsOf(settings: MssqlSettings): string[] {
  return [settings.password.reveal().toString('utf8')];
}
