import fs from 'node:fs';
import { AutoLoggingError } from '../errors.ts';
import type { CommandRunner } from '../platform/command.ts';

/**
 * The program that shows a folder in the system's file manager: `explorer.exe` on Windows,
 * `open` on macOS, `xdg-open` elsewhere. `override` (the `AUTOLOGGING_OPEN_WITH` variable)
 * replaces it, for a desktop without xdg-open and for tests.
 */
export function folderOpener(platform: NodeJS.Platform, override?: string): string {
  if (override) return override;
  if (platform === 'win32') return 'explorer.exe';
  if (platform === 'darwin') return 'open';
  return 'xdg-open';
}

/**
 * Opens `folder` (created owner-only when missing) with the system's file manager through
 * `run`. Throws `EOPENFOLDER` when the program cannot be started or reports a failure.
 * `explorer.exe` exits with 1 even when it opened the folder, so its exit code is not read.
 */
export async function openFolder(
  folder: string,
  run: CommandRunner,
  platform: NodeJS.Platform,
  override?: string,
): Promise<{ folder: string; program: string }> {
  fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
  const program = folderOpener(platform, override);
  let exitCode: number;
  try {
    ({ exitCode } = await run(program, [folder], { timeoutMs: 15_000 }));
  } catch (error) {
    throw new AutoLoggingError('EOPENFOLDER', `${program} could not be started`, { cause: error });
  }
  if (exitCode !== 0 && program !== 'explorer.exe') {
    throw new AutoLoggingError(
      'EOPENFOLDER',
      `${program} could not open the folder (exit ${exitCode})`,
    );
  }
  return { folder, program };
}
