import os from 'node:os';
import type { AuditEntry } from '../journal/journal.ts';

/** Where protected operations are written down: `Journal` is one. */
export interface AuditLog {
  /** Stores one entry; the actor is encrypted by the journal, never kept in plain text. */
  audit(entry: AuditEntry): void;
}

/**
 * Who is at the keyboard, for the audit trail: the OS account, with its Windows domain where
 * there is one (`CORP\minjun.kim`). Personal: the journal stores it encrypted.
 */
export function currentActor(env: NodeJS.ProcessEnv = process.env): string {
  let name: string;
  try {
    name = os.userInfo().username;
  } catch {
    // No passwd entry for this uid (a container): the environment is all there is.
    name = env.USERNAME ?? env.USER ?? 'unknown';
  }
  return env.USERDOMAIN && process.platform === 'win32' ? `${env.USERDOMAIN}\\${name}` : name;
}
