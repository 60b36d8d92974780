import os from 'node:os';
import path from 'node:path';

/** The files of one data folder. */
export interface HomePaths {
  home: string;
  settings: string;
  journal: string;
  logs: string;
  /** The running agent's pid, start time and address. */
  agentInfo: string;
  /** Held while an agent runs, so that a second one refuses to start. */
  lock: string;
}

/**
 * The data folder: `--home`, else `AUTOLOGGING_HOME`, else `%ProgramData%\AutoLogging` on
 * Windows and `$XDG_DATA_HOME/autologging` (default `~/.local/share/autologging`) elsewhere.
 */
export function resolveHome(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (explicit) return path.resolve(explicit);
  if (env.AUTOLOGGING_HOME) return path.resolve(env.AUTOLOGGING_HOME);
  if (platform === 'win32') {
    return path.win32.join(env.ProgramData ?? 'C:\\ProgramData', 'AutoLogging');
  }
  const data = env.XDG_DATA_HOME || path.join(env.HOME || os.homedir(), '.local', 'share');
  return path.join(data, 'autologging');
}

/** Where each file of the data folder `home` lives. */
export function homePaths(home: string): HomePaths {
  return {
    home,
    settings: path.join(home, 'settings.json'),
    journal: path.join(home, 'journal.db'),
    logs: path.join(home, 'logs'),
    agentInfo: path.join(home, 'agent.json'),
    lock: path.join(home, 'agent.lock'),
  };
}
