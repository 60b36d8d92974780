/**
 * Running an external program for a source and reading what it printed. Used by every source
 * that reads a command's output (`command`, `windows-sessions`, `windows-events`,
 * `citrix-broker`), so that all of them fail the same way with the same codes.
 */
import { AbortedError, SourceError } from '../../errors.ts';
import type { SourceContext } from '../types.ts';

/** What a finished command printed, decoded. */
export interface DecodedOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** One command for a source to run. */
export interface CommandRequest {
  file: string;
  args: readonly string[];
  /** How the command is named in messages: e.g. `quser /server:VDA01`. Never holds a secret. */
  shown: string;
  /** A WHATWG encoding label (`utf-8`, `windows-949`, `euc-kr`, `utf-16le`...). */
  encoding: string;
  timeoutMs: number;
  signal: AbortSignal;
}

/**
 * Runs a command through `context.run` and decodes its output with `request.encoding`, whatever
 * its exit code. The bytes are asked for as `latin1`, which keeps each byte as one character, so
 * any encoding can be decoded afterwards. Throws `SourceError` `ECOMMAND` when the program could
 * not be started, `ETIMEOUT` when it was stopped for running too long, and `AbortedError` when
 * `request.signal` fired.
 */
export async function runDecoded(
  context: Pick<SourceContext, 'id' | 'run'>,
  request: CommandRequest,
): Promise<DecodedOutput> {
  const { file, args, shown, signal, timeoutMs } = request;
  let output;
  try {
    output = await context.run(file, args, { signal, timeoutMs, encoding: 'latin1' });
  } catch (error) {
    if (signal.aborted) throw new AbortedError(`${shown} of source ${context.id}`);
    throw startFailure(context.id, request, error);
  }
  const decoder = new TextDecoder(request.encoding);
  return {
    stdout: decoder.decode(Buffer.from(output.stdout, 'latin1')),
    stderr: decoder.decode(Buffer.from(output.stderr, 'latin1')),
    exitCode: output.exitCode,
  };
}

/**
 * Runs a command like `runDecoded` and returns its standard output. Throws `SourceError`
 * `ECOMMAND` when it exits with another code than 0, naming the command, the code and the
 * first line it printed on standard error.
 */
export async function runChecked(
  context: Pick<SourceContext, 'id' | 'run'>,
  request: CommandRequest,
): Promise<string> {
  const output = await runDecoded(context, request);
  if (output.exitCode !== 0) throw commandFailed(context.id, request.shown, output);
  return output.stdout;
}

/**
 * Why a command did not run to the end. Built from the error's code and signal only: Node's
 * own message repeats the whole command line, and arguments may hold a password.
 */
function startFailure(sourceId: string, request: CommandRequest, error: unknown): SourceError {
  const { code, signal, killed } = (error ?? {}) as {
    code?: unknown;
    signal?: unknown;
    killed?: unknown;
  };
  const options = { cause: error };
  if (killed === true) {
    const seconds = Math.round(request.timeoutMs / 1000);
    return new SourceError(
      'ETIMEOUT',
      sourceId,
      `${request.shown} did not finish within ${seconds} s and was stopped`,
      options,
    );
  }
  if (typeof signal === 'string') {
    return new SourceError(
      'ECOMMAND',
      sourceId,
      `${request.shown} was ended by ${signal}`,
      options,
    );
  }
  const why =
    code === 'ENOENT'
      ? 'the program was not found'
      : code === 'EACCES'
        ? 'permission denied'
        : typeof code === 'string'
          ? code
          : 'unknown error';
  return new SourceError(
    'ECOMMAND',
    sourceId,
    `${request.shown} could not be started: ${why}`,
    options,
  );
}

/** The `ECOMMAND` error for a command that exited with an error. */
export function commandFailed(sourceId: string, shown: string, output: DecodedOutput): SourceError {
  // Only standard error: standard output may hold the personal values the command was reading.
  const said = firstLine(output.stderr);
  return new SourceError(
    'ECOMMAND',
    sourceId,
    `${shown} exited with code ${output.exitCode}${said ? `: ${said}` : ''}`,
  );
}

/** The first non-blank line of `text`, cut to 200 characters. */
export function firstLine(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  const trimmed = line.trim();
  return trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed;
}
