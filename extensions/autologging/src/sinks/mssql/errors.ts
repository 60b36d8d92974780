import { AutoLoggingError } from '../../errors.ts';

/** What the forwarder does after an error: try again, try again on a new pool, or stop. */
export type Recovery = 'retry' | 'reconnect' | 'stop';

/**
 * A SQL Server store error: connecting, loading a batch, applying scripts or maintenance.
 * `code` is stable (`EMSSQLLOGIN`, `EMSSQLPERMISSION`, ...), `number` is SQL Server's error
 * number when the server sent one, `recovery` says whether trying again can help. The message
 * never holds the password: it is removed from anything the driver or the server said.
 */
export class MssqlError extends AutoLoggingError {
  /** SQL Server's error number (1205, 18456, ...), or null for a driver or network error. */
  readonly number: number | null;
  readonly recovery: Recovery;

  constructor(
    code: string,
    message: string,
    options: { number?: number | null; recovery?: Recovery; cause?: unknown } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.number = options.number ?? null;
    this.recovery = options.recovery ?? 'stop';
  }
}

/**
 * The message of a driver or server error made safe to show and log: every occurrence of
 * each secret replaced by `***`, SQL Server's "Truncated value" echo (which could hold a
 * recorded value) cut, whitespace folded, and at most 500 characters.
 */
export function safeMessage(error: unknown, secrets: readonly string[] = []): string {
  let text = error instanceof Error ? error.message : String(error);
  for (const secret of secrets) {
    if (secret.length > 0) text = text.split(secret).join('***');
  }
  text = text.replace(/Truncated value: '.*?'(\.|$)/gs, 'Truncated value: (hidden).');
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}
