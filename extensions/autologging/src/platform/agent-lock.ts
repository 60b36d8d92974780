import fs from 'node:fs';
import { AutoLoggingError } from '../errors.ts';
import { writeFileAtomic } from './files.ts';
import type { HomePaths } from './paths.ts';

/** What a running agent says about itself in `agent.json`. */
export interface AgentInfo {
  pid: number;
  startedAt: number;
  version: string;
  home: string;
  /** The RPC address, once the window bridge serves one. */
  address?: string;
  /** The SQL Server forwarder's health, when one is configured. */
  forwarder?: {
    state: string;
    since: number;
    attempts: number;
    lastError: { code: string; message: string; at: number } | null;
    lastStoredAt: number | null;
    lag: { records: number; ageMs: number | null } | null;
  };
}

/** True when a process with this pid exists. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the data folder's agent lock for this process, replacing a lock whose process is
 * gone. Throws `EAGENTRUNNING` when another live agent holds it.
 */
export function acquireAgentLock(paths: HomePaths): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(paths.lock, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(fs.readFileSync(paths.lock, 'utf8').trim());
    if (holder !== process.pid && isAlive(holder)) {
      throw new AutoLoggingError(
        'EAGENTRUNNING',
        `an agent is already running for ${paths.home} (pid ${holder})`,
      );
    }
    fs.rmSync(paths.lock, { force: true });
  }
  throw new AutoLoggingError('EAGENTLOCK', `cannot take the agent lock ${paths.lock}`);
}

/** Releases the lock and removes `agent.json`, if this process holds them. */
export function releaseAgentLock(paths: HomePaths): void {
  const info = readAgentInfo(paths);
  if (info?.pid === process.pid) fs.rmSync(paths.agentInfo, { force: true });
  try {
    if (Number(fs.readFileSync(paths.lock, 'utf8').trim()) === process.pid) fs.rmSync(paths.lock);
  } catch {
    // Already gone: nothing to release.
  }
}

/** Writes `agent.json`. */
export function writeAgentInfo(paths: HomePaths, info: AgentInfo): void {
  writeFileAtomic(paths.agentInfo, JSON.stringify(info, null, 2) + '\n');
}

/** The running agent's `agent.json`, or null when no live agent wrote one. */
export function readAgentInfo(paths: HomePaths): AgentInfo | null {
  try {
    const info = JSON.parse(fs.readFileSync(paths.agentInfo, 'utf8')) as AgentInfo;
    return isAlive(info.pid) ? info : null;
  } catch {
    return null;
  }
}
