import type { Agent } from '../agent.ts';
import { describeError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { homePaths } from '../platform/paths.ts';
import { runBridge, startAgentDetached } from './bridge.ts';
import { startLinkServer, type LinkServer } from './server.ts';
import { findWindowDir } from './static-files.ts';

export { startLinkServer, type LinkServer } from './server.ts';

/**
 * Starts the RPC surface of a running agent (for `autologging run`), serving the built window
 * too when there is one (browser mode). Returns the server and the lines to print: the
 * window's address carries the token in its fragment, which browsers never send to a server.
 * A failure is returned as a line, not thrown: recording goes on without a window.
 */
export async function serveWindow(
  agent: Agent,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ server: LinkServer | null; lines: string[] }> {
  try {
    const windowDir = findWindowDir(env);
    const server = await startLinkServer({
      agent,
      log,
      windowDir,
      openWith: env.AUTOLOGGING_OPEN_WITH || undefined,
      passphrase: env.AUTOLOGGING_PASSPHRASE,
    });
    const lines = server.windowUrl
      ? [`  window:   ${server.windowUrl}#token=${server.token}`]
      : [`  window:   not built (npm run build); RPC at ${server.address}`];
    return { server, lines };
  } catch (error) {
    return { server: null, lines: [`  window:   not served: ${describeError(error)}`] };
  }
}

/**
 * `autologging link`: runs the Neutralino extension bridge for data folder `home` until
 * Neutralino's socket closes. Standard input is released afterwards so the process can end.
 */
export async function linkCommand(home: string, log: Logger): Promise<void> {
  try {
    await runBridge({
      paths: homePaths(home),
      log,
      input: process.stdin,
      startAgent: () => startAgentDetached(home),
    });
  } finally {
    process.stdin.destroy();
  }
}
