import { MssqlError, type Recovery } from './errors.ts';

/** What an error means for the forwarder. */
export interface ErrorClass {
  /** Try again on the same pool, try again on a new pool, or stop until someone acts. */
  recovery: Recovery;
  /** Stable code for the status and the logs. */
  code: string;
  /** SQL Server's error number, when there is one. */
  number: number | null;
}

interface Rule {
  code: string;
  recovery: Recovery;
}

const LOGIN: Rule = { code: 'EMSSQLLOGIN', recovery: 'stop' };
const PERMISSION: Rule = { code: 'EMSSQLPERMISSION', recovery: 'stop' };
const SCHEMA: Rule = { code: 'EMSSQLSCHEMA', recovery: 'stop' };
const DATA: Rule = { code: 'EMSSQLDATA', recovery: 'stop' };
const DEADLOCK: Rule = { code: 'EMSSQLDEADLOCK', recovery: 'retry' };
const BUSY: Rule = { code: 'EMSSQLBUSY', recovery: 'retry' };
const CONFLICT: Rule = { code: 'EMSSQLCONFLICT', recovery: 'retry' };
const UNAVAILABLE: Rule = { code: 'EMSSQLUNAVAILABLE', recovery: 'reconnect' };
const CONNECTION: Rule = { code: 'EMSSQLCONNECTION', recovery: 'reconnect' };
const TIMEOUT: Rule = { code: 'EMSSQLTIMEOUT', recovery: 'reconnect' };
const TLS: Rule = { code: 'EMSSQLTLS', recovery: 'stop' };

/** SQL Server error numbers, by what they mean here. */
const BY_NUMBER = new Map<number, Rule>([
  // Login failed, untrusted domain, account disabled, locked out, password expired or to change.
  ...[18456, 18452, 18470, 18486, 18487, 18488].map((n) => [n, LOGIN] as const),
  // Permission denied on an object, a column, CREATE, an action; server permission; no access
  // to the database under this login; "cannot find, or no permission" (SET, CREATE SCHEMA,
  // ALTER TABLE, principals); no permission for the action.
  ...[229, 230, 262, 297, 300, 916, 1088, 2760, 4902, 15151, 15247].map(
    (n) => [n, PERMISSION] as const,
  ),
  // Invalid object, invalid column, missing procedure, column list mismatch, bulk column type.
  ...[208, 207, 2812, 213, 4816].map((n) => [n, SCHEMA] as const),
  // Truncation, NULL into NOT NULL, conversion, overflow, date out of range, bulk length.
  ...[8152, 2628, 515, 245, 8114, 8115, 242, 241, 220, 232, 4815].map((n) => [n, DATA] as const),
  [1205, DEADLOCK],
  // Lock timeout, out of locks or memory, memory grant waits, snapshot update conflicts.
  ...[1222, 1204, 701, 802, 8645, 8651, 3960, 3961].map((n) => [n, BUSY] as const),
  // A duplicate key: another writer inserted the same record first; the retry skips it.
  ...[2627, 2601].map((n) => [n, CONFLICT] as const),
  // Database offline, recovering, read-only after a failover, cannot be opened; transport
  // errors the server reports; Azure SQL's transient throttling and reconfiguration.
  ...[4060, 942, 952, 976, 978, 983, 3906, 233, 64, 121, 10053, 10054, 10060, -2].map(
    (n) => [n, UNAVAILABLE] as const,
  ),
  ...[40613, 40197, 40501, 49918, 49919, 49920, 10928, 10929].map((n) => [n, UNAVAILABLE] as const),
]);

/** Driver and Node codes (`mssql`, `tedious`, `net`, `tls`). */
const BY_CODE = new Map<string, Rule>([
  ...['ESOCKET', 'ECONNCLOSED', 'ENOCONN', 'ENOTOPEN', 'EINSTLOOKUP'].map(
    (c) => [c, CONNECTION] as const,
  ),
  ...['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH'].map(
    (c) => [c, CONNECTION] as const,
  ),
  ...['ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL'].map((c) => [c, CONNECTION] as const),
  ['ETIMEOUT', TIMEOUT],
  ['ETIMEDOUT', TIMEOUT],
  ...[
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'CERT_HAS_EXPIRED',
    'CERT_NOT_YET_VALID',
    'ERR_TLS_CERT_ALTNAME_INVALID',
  ].map((c) => [c, TLS] as const),
]);

/**
 * Says what an error from `mssql`, `tedious`, Node's sockets or this module means: `retry`
 * (deadlock 1205, lock timeout, a duplicate-key race, an unknown error), `reconnect` (socket
 * errors, `ECONNCLOSED`, timeouts, database unavailable: a new pool is made first) or `stop`
 * (login failed 18456 and kin, permission denied 229/230/262/297/300..., a missing object, a
 * value SQL Server refuses, a certificate that is not trusted). An `MssqlError` keeps the
 * class it was given. Looks through `originalError`, `cause`, `precedingErrors` and
 * `AggregateError.errors`, SQL Server numbers first.
 */
export function classifyError(error: unknown): ErrorClass {
  if (error instanceof MssqlError) {
    return { recovery: error.recovery, code: error.code, number: error.number };
  }
  const found = collect(error);
  for (const number of found.numbers) {
    const rule = BY_NUMBER.get(number);
    if (rule) return { ...rule, number };
  }
  const number = found.numbers[0] ?? null;
  // An untrusted certificate arrives inside a socket error; it must not read as one.
  if (found.codes.some((c) => BY_CODE.get(c) === TLS)) return { ...TLS, number };
  for (const code of found.codes) {
    const rule = BY_CODE.get(code);
    if (rule) return { ...rule, number };
  }
  if (found.codes.includes('ELOGIN')) {
    // tedious reports every login refusal as ELOGIN without a number; a database that cannot
    // be opened yet (recovering after a restart) is the one worth waiting for.
    return /cannot open database/i.test(found.messages.join(' '))
      ? { ...UNAVAILABLE, number }
      : { ...LOGIN, number: number ?? 18456 };
  }
  return { code: 'EMSSQLFAILED', recovery: 'retry', number };
}

/** Numbers, codes and messages found in an error and the errors it wraps, outermost first. */
function collect(error: unknown): { numbers: number[]; codes: string[]; messages: string[] } {
  const numbers: number[] = [];
  const codes: string[] = [];
  const messages: string[] = [];
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number) => {
    if (value === null || typeof value !== 'object' || seen.has(value) || depth > 6) return;
    seen.add(value);
    const e = value as Record<string, unknown>;
    if (typeof e.number === 'number') numbers.push(e.number);
    const info = e.info as { number?: unknown } | undefined;
    if (typeof info?.number === 'number') numbers.push(info.number);
    if (typeof e.code === 'string') codes.push(e.code);
    if (typeof e.message === 'string') messages.push(e.message);
    if (Array.isArray(e.precedingErrors)) for (const p of e.precedingErrors) visit(p, depth + 1);
    if (Array.isArray(e.errors)) for (const p of e.errors) visit(p, depth + 1);
    visit(e.originalError, depth + 1);
    visit(e.cause, depth + 1);
  };
  visit(error, 0);
  return { numbers, codes, messages };
}

/** How retries are spaced. */
export interface BackoffPolicy {
  /** The ceiling of the first delay. */
  baseMs: number;
  /** No delay is longer than this. */
  maxMs: number;
}

/** Defaults: first retry within 1 s, then doubling, never more than 5 minutes apart. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 300_000 };

/**
 * The delay before retry number `attempt` (1 for the first): exponential with "equal
 * jitter": the ceiling `min(maxMs, baseMs × 2^(attempt−1))`, of which the upper half is
 * random, so the delay lies in `[ceiling / 2, ceiling]`. Agents that failed together do not
 * come back together, and no delay exceeds `maxMs`. `random` returns a value in `[0, 1)`.
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const step = Math.max(0, Math.floor(attempt) - 1);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(step, 52));
  const r = random();
  const jitter = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.round(ceiling / 2 + (ceiling / 2) * jitter);
}
