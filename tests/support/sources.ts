import { memoryLogger } from '../../extensions/autologging/src/log/logger.ts';
import type {
  CommandOptions,
  CommandRunner,
} from '../../extensions/autologging/src/platform/command.ts';
import type { SourceContext } from '../../extensions/autologging/src/sources/types.ts';

/** One call a fake runner received. */
export interface RunnerCall {
  file: string;
  args: readonly string[];
  options: CommandOptions | undefined;
}

/** What a fake program prints: text (UTF-8) or the raw bytes of a fixture file. */
export interface RunnerAnswer {
  stdout?: string | Buffer;
  stderr?: string | Buffer;
  exitCode?: number;
}

/**
 * A CommandRunner that records every call and answers it with `answer` (or what `answer(call)`
 * returns), handing the output back in the encoding the caller asked for, as a real one does.
 */
export function fakeRunner(answer: RunnerAnswer | ((call: RunnerCall) => RunnerAnswer)) {
  const calls: RunnerCall[] = [];
  const run: CommandRunner = async (file, args, options) => {
    const call = { file, args, options };
    calls.push(call);
    const { stdout, stderr, exitCode } = typeof answer === 'function' ? answer(call) : answer;
    const encode = (out: string | Buffer = '') =>
      (Buffer.isBuffer(out) ? out : Buffer.from(out)).toString(options?.encoding ?? 'utf8');
    return { stdout: encode(stdout), stderr: encode(stderr), exitCode: exitCode ?? 0 };
  };
  return { run, calls };
}

/** A source context for tests, with a capturing logger; override what a test is about. */
export function sourceContext(overrides: Partial<SourceContext> = {}) {
  const log = memoryLogger();
  const context: SourceContext = {
    id: 'source',
    log,
    timeZone: 'Asia/Seoul',
    now: () => Date.UTC(2024, 5, 28),
    run: async () => {
      throw new Error('this test runs no command');
    },
    platform: 'linux',
    ...overrides,
  };
  return { context, log };
}
