import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import WebSocket from 'ws';
import { AutoLoggingError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { HomePaths } from '../platform/paths.ts';
import { readAccess } from './access.ts';
import { AGENT_EVENT, HELLO_EVENT, type AgentAccess } from './protocol.ts';

/** What Neutralino writes to an extension's standard input when it starts it. */
export interface NeutralinoLaunch {
  nlPort: string;
  nlToken: string;
  nlConnectToken: string;
  nlExtensionId: string;
}

/** What the bridge needs; tests replace how the agent is started. */
export interface BridgeOptions {
  paths: HomePaths;
  log: Logger;
  /** Standard input, where Neutralino writes the launch JSON. */
  input: NodeJS.ReadableStream;
  /** Starts `autologging run` detached for this data folder. */
  startAgent: () => void;
  /** How long to wait for the agent's address. Default 60 s (a first start makes keys). */
  agentTimeoutMs?: number;
}

/**
 * `autologging link`: the Neutralino extension. Reads Neutralino's launch JSON from standard
 * input, makes sure the agent runs (starting it detached when agent.json names none), connects
 * to Neutralino's WebSocket as the extension and broadcasts the agent's address and token to
 * the window: at once, when a window connects, and whenever the window asks. Resolves when
 * Neutralino's socket closes; the agent keeps running. Throws `ELINKINPUT` for launch JSON it
 * cannot read and `EAGENTSTART` when the agent does not come up in time.
 */
export async function runBridge(options: BridgeOptions): Promise<void> {
  const log = options.log.child('link');
  const launch = await readLaunch(options.input);
  const access = await ensureAgent(options);
  log.info('agent found; connecting to the window', { address: access.address });

  const url =
    `ws://127.0.0.1:${encodeURIComponent(launch.nlPort)}` +
    `?extensionId=${encodeURIComponent(launch.nlExtensionId)}` +
    `&connectToken=${encodeURIComponent(launch.nlConnectToken)}`;
  const ws = new WebSocket(url, { perMessageDeflate: false });

  const broadcast = () => {
    const current = readAccess(options.paths) ?? access;
    ws.send(
      JSON.stringify({
        id: crypto.randomUUID(),
        method: 'app.broadcast',
        accessToken: launch.nlToken,
        data: { event: AGENT_EVENT, data: current },
      }),
    );
  };

  await new Promise<void>((resolve, reject) => {
    let opened = false;
    ws.on('open', () => {
      opened = true;
      broadcast();
    });
    ws.on('message', (raw) => {
      let message: { event?: unknown; data?: { error?: { code?: string } } };
      try {
        message = JSON.parse(String(raw)) as typeof message;
      } catch {
        return;
      }
      if (message.event === HELLO_EVENT || message.event === 'appClientConnect') broadcast();
      if (message.data?.error) {
        log.warn('Neutralino refused a message', { code: message.data.error.code });
      }
    });
    ws.on('close', () => resolve());
    ws.on('error', (error) => {
      if (!opened) {
        reject(
          new AutoLoggingError('ELINKCONNECT', `cannot reach Neutralino on port ${launch.nlPort}`, {
            cause: error,
          }),
        );
      }
    });
  });
  log.info('Neutralino closed; the agent keeps running');
}

/**
 * Reads Neutralino's launch JSON: one object on standard input, which may stay open after it.
 * Throws `ELINKINPUT` when the input ends without one or lacks a field.
 */
export async function readLaunch(input: NodeJS.ReadableStream): Promise<NeutralinoLaunch> {
  let text = '';
  const parsed = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const tryParse = () => {
      try {
        const value = JSON.parse(text.trim()) as Record<string, unknown>;
        input.off('data', onData);
        input.off('end', onEnd);
        if ('pause' in input) (input as NodeJS.ReadStream).pause();
        resolve(value);
        return true;
      } catch {
        return false;
      }
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      if (text.length > 64 * 1024) onEnd();
      else tryParse();
    };
    const onEnd = () => {
      if (!tryParse()) {
        reject(new AutoLoggingError('ELINKINPUT', 'Neutralino sent no launch JSON on stdin'));
      }
    };
    input.on('data', onData);
    input.on('end', onEnd);
  });
  const field = (name: keyof NeutralinoLaunch) => {
    const value = parsed[name];
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new AutoLoggingError('ELINKINPUT', `the launch JSON has no "${name}"`);
    }
    return String(value);
  };
  return {
    nlPort: field('nlPort'),
    nlToken: field('nlToken'),
    nlConnectToken: field('nlConnectToken'),
    nlExtensionId: field('nlExtensionId'),
  };
}

/** The running agent's access, starting the agent when none runs. */
async function ensureAgent(options: BridgeOptions): Promise<AgentAccess> {
  const found = readAccess(options.paths);
  if (found) return found;
  options.startAgent();
  const until = Date.now() + (options.agentTimeoutMs ?? 60_000);
  for (;;) {
    const access = readAccess(options.paths);
    if (access) return access;
    if (Date.now() > until) {
      throw new AutoLoggingError(
        'EAGENTSTART',
        `the agent for ${options.paths.home} did not start; see its logs in ${options.paths.logs}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Starts `autologging --home HOME run` as a detached process that outlives this one, with no
 * console and its output discarded (it logs to its data folder). Runs the same executable:
 * the bundle under Node, or the single executable itself.
 */
export function startAgentDetached(home: string): void {
  const entry = process.argv[1];
  const script = entry && /\.(c?js|mjs|ts)$/.test(entry) ? [entry] : [];
  const child = spawn(process.execPath, [...script, '--home', home, 'run'], {
    detached: true,
    stdio: 'ignore',
    windowsHide: true,
  });
  child.unref();
}
