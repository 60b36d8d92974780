import { execFile } from 'node:child_process';
import { SourceError } from '../errors.ts';

/** What a finished command printed. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Options for one command. */
export interface CommandOptions {
  /** Kills the command after this long. Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Output encoding; `quser` on a Korean Windows prints UTF-8 only under `chcp 65001`. */
  encoding?: BufferEncoding;
  /**
   * Written to the program's standard input, which is then closed. How key material reaches a
   * program: a command line can be read by other processes, standard input cannot.
   */
  input?: string;
}

/**
 * Runs an external program without a shell and returns its output, whatever its exit code.
 * Throws only when the program could not be started or was stopped. Injected into sources so
 * that tests can answer with fixtures.
 */
export type CommandRunner = (
  file: string,
  args: readonly string[],
  options?: CommandOptions,
) => Promise<CommandOutput>;

/** The runner that starts real processes. */
export const runCommand: CommandRunner = (file, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      {
        timeout: options.timeoutMs ?? 60_000,
        signal: options.signal,
        encoding: options.encoding ?? 'utf8',
        maxBuffer: 256 * 1024 * 1024,
        windowsHide: true,
      },
      (error, stdout, stderr) => {
        const exitCode = typeof error?.code === 'number' ? error.code : error ? -1 : 0;
        if (error && typeof error.code !== 'number') {
          reject(error);
          return;
        }
        resolve({ stdout: String(stdout), stderr: String(stderr), exitCode });
      },
    );
    // A program that exits without reading its input must not fail the write.
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.input ?? '');
  });

/** Throws a clear `ENEEDSWINDOWS` error when not on Windows. */
export function requireWindows(sourceId: string, what: string, platform: NodeJS.Platform): void {
  if (platform !== 'win32') {
    throw new SourceError(
      'ENEEDSWINDOWS',
      sourceId,
      `${what} needs Windows; this machine runs ${platform}`,
    );
  }
}
