import { findAgent } from './connect.ts';
import { AgentClient, AgentError } from './rpc.ts';

/** The agent's answer to `status.get`. */
export interface Status {
  version: string;
  pid: number;
  platform: string;
  home: string;
  settingsFile: string;
  timeZone: string;
  firstRun: boolean;
  exportsFolder: string;
  nextRuns: Record<string, number | null>;
  forwarder: unknown;
}

/** The connection to the agent, as the window shows it. */
export const connection = $state<{
  state: 'finding' | 'connecting' | 'open' | 'closed' | 'notoken';
  status: Status | null;
}>({ state: 'finding', status: null });

let client: AgentClient | null = null;

/**
 * Finds the agent (URL fragment or Neutralino extension) and connects. Resolves once the
 * first status arrived; a dropped connection is retried every two seconds.
 */
export async function connect(): Promise<void> {
  let access;
  try {
    access = await findAgent();
  } catch {
    connection.state = 'notoken';
    return;
  }
  client = new AgentClient(access);
  client.onState = (state) => {
    connection.state = state;
    if (state === 'closed') setTimeout(() => void refreshStatus().catch(() => {}), 2000);
  };
  await refreshStatus().catch(() => {});
}

/** Calls an agent method; rejects with `AgentError` (`EDISCONNECTED` when not connected). */
export function call<T = unknown>(method: string, params?: unknown): Promise<T> {
  if (!client) {
    return Promise.reject(new AgentError({ code: 'EDISCONNECTED', message: 'not connected' }));
  }
  return client.call<T>(method, params);
}

/** Reads `status.get` again. */
export async function refreshStatus(): Promise<void> {
  connection.status = await call<Status>('status.get');
}

/** The message of any failure, with its code in front. */
export function describe(error: unknown): string {
  if (error instanceof AgentError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
