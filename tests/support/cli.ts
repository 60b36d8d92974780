import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The built command, as `npx autologging` runs it. */
export const BIN = path.resolve(
  import.meta.dirname,
  '../../extensions/autologging/bin/autologging.cjs',
);

/** What a finished command printed. */
export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for a spawned agent: no passphrase from the developer's shell leaks in. */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('AUTOLOGGING_PASSPHRASE' in extra)) delete env.AUTOLOGGING_PASSPHRASE;
  delete env.AUTOLOGGING_HOME;
  return env;
}

/** Runs `autologging ARGS` to the end, with the Node running the tests (24+). */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Ran {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: cliEnv(env),
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs `autologging ARGS` to the end without blocking this process, for commands that talk to
 * a server the test itself runs.
 */
export async function cliAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const run = startCli(args, env);
  const code = await run.exited;
  return { code, ...run.output() };
}

/** Starts `autologging ARGS` in the background; `output()` is what it printed so far. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    /** Resolves when `test` holds for the output, or rejects after `ms`. */
    async waitFor(test: (out: string) => boolean, ms = 60_000): Promise<void> {
      const until = Date.now() + ms;
      while (!test(stdout + stderr)) {
        if (Date.now() > until) throw new Error(`timed out; output so far:\n${stdout}\n${stderr}`);
        if (child.exitCode !== null)
          throw new Error(`exited ${child.exitCode}:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Polls `check` every 200 ms until it returns a value, or throws after `ms`. */
export async function eventually<T>(
  check: () => T | undefined | null | false,
  ms = 60_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}
