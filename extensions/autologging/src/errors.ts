import { setTimeout as delay } from 'node:timers/promises';

/**
 * The agent's error family. Every error has a stable uppercase `code` that tests, the CLI
 * and the window match on; the message is for people and may change. Messages never hold a
 * secret or a personal value: callers pass field names and redacted values only.
 */
export class AutoLoggingError extends Error {
  /** Stable machine-readable code, e.g. `ESETTINGS`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A setting is missing, malformed or out of range. The CLI exits with 2 on these. */
export class SettingsError extends AutoLoggingError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'ESETTINGS', message, options);
  }
}

/** The command line asked for something that does not exist. The CLI exits with 2. */
export class UsageError extends AutoLoggingError {
  constructor(message: string) {
    super('EUSAGE', message);
  }
}

/** A capture source failed: unreachable, bad response, unsupported platform. */
export class SourceError extends AutoLoggingError {
  /** The source id (from settings) that failed. */
  readonly source: string;

  constructor(code: string, source: string, message: string, options?: { cause?: unknown }) {
    super(code, `source ${source}: ${message}`, options);
    this.source = source;
  }
}

/** The journal could not be opened, read or written. */
export class JournalError extends AutoLoggingError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** An Excel workbook could not be written. */
export class ExportError extends AutoLoggingError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Keys could not be loaded, or a value failed authentication when decrypted. */
export class CryptoError extends AutoLoggingError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A job was stopped because the agent is shutting down. */
export class AbortedError extends AutoLoggingError {
  constructor(what: string) {
    super('EABORTED', `${what} was stopped because the agent is shutting down`);
  }
}

/** The code of any thrown value: ours, a Node system error's, or `EUNEXPECTED`. */
export function errorCode(error: unknown): string {
  if (error instanceof AutoLoggingError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? code : 'EUNEXPECTED';
}

/** A one-line description of any thrown value, with its code in front. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `${errorCode(error)}: ${message}`;
}

/** Waits `ms`; throws `AbortedError` naming `what` as soon as `signal` fires. */
export async function sleep(
  ms: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    if (signal?.aborted) throw new AbortedError(what);
    throw error;
  }
}

/** Throws `AbortedError` when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(what);
}
