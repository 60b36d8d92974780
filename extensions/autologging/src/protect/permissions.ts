import fs from 'node:fs';
import path from 'node:path';
import { AutoLoggingError } from '../errors.ts';
import type { CommandRunner } from '../platform/command.ts';

/** Well-known SIDs: the same on every Windows, whatever its language (`관리자`, `SYSTEM`). */
const SYSTEM_SID = '*S-1-5-18';
const ADMINISTRATORS_SID = '*S-1-5-32-544';

/** Options of `secureHome`. */
export interface SecureHomeOptions {
  platform?: NodeJS.Platform;
  /** Runs `icacls` on Windows. */
  run: CommandRunner;
  /** The account running the agent, `DOMAIN\name` (default from the environment). */
  account?: string;
}

/**
 * Makes the data folder `home` and everything in it owner-only. Elsewhere than Windows:
 * folders 0700, files 0600. On Windows: the folder's inherited permissions are cut and only
 * SYSTEM, Administrators and the account running the agent get full control, inherited by
 * everything inside (`icacls /inheritance:r /grant:r`, then `/reset` below). Returns how many
 * files and folders it went through.
 *
 * Throws `AutoLoggingError` `EPERMISSIONS` when `icacls` fails (its exit code and first line
 * of output, which names paths only).
 */
export async function secureHome(home: string, options: SecureHomeOptions): Promise<number> {
  const platform = options.platform ?? process.platform;
  if (platform !== 'win32') return chmodTree(home);

  const account = options.account ?? windowsAccount();
  const grant = (sid: string) => `${sid}:(OI)(CI)F`;
  await icacls(options.run, [
    home,
    '/inheritance:r',
    '/grant:r',
    grant(SYSTEM_SID),
    grant(ADMINISTRATORS_SID),
    grant(account),
    '/Q',
  ]);
  // What was inside before keeps explicit entries of its own: reset them to inherit only.
  await icacls(options.run, [path.win32.join(home, '*'), '/reset', '/T', '/C', '/Q']);
  return 1;
}

async function icacls(run: CommandRunner, args: string[]): Promise<void> {
  const result = await run('icacls.exe', args, { timeoutMs: 120_000 });
  if (result.exitCode !== 0) {
    const line = (result.stderr || result.stdout).split(/\r?\n/).find((l) => l.trim()) ?? '';
    throw new AutoLoggingError(
      'EPERMISSIONS',
      `icacls ${args[0]} failed (exit code ${result.exitCode}): ${line.trim()}`,
    );
  }
}

function windowsAccount(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.USERNAME ?? 'SYSTEM';
  return env.USERDOMAIN ? `${env.USERDOMAIN}\\${name}` : name;
}

function chmodTree(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let count = 1;
  fs.chmodSync(dir, 0o700);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) count += chmodTree(full);
    else {
      fs.chmodSync(full, 0o600);
      count++;
    }
  }
  return count;
}
