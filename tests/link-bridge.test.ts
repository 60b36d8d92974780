import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { readAccess } from '../extensions/autologging/src/link/access.ts';
import { isAlive, readAgentInfo } from '../extensions/autologging/src/platform/agent-lock.ts';
import { homePaths } from '../extensions/autologging/src/platform/paths.ts';
import { BIN, cliEnv, eventually } from './support/cli.ts';
import { startNeutralinoDouble, type NeutralinoDouble } from './support/neutralino-double.ts';
import { tempDir } from './support/temp.ts';

// `autologging link` as Neutralino runs it: from an install folder with spaces, launch JSON on
// standard input, against a double of Neutralino's WebSocket server.

const EXTENSION_ID = 'kr.startlogging.autologging';
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Copies the built command into `<tmp>/Start Logging/…`, as an installer would. */
function installWithSpaces(): string {
  const root = path.join(tempDir(), 'Start Logging');
  for (const part of ['bin/autologging.cjs', 'dist/autologging.cjs']) {
    const from = path.resolve(path.dirname(BIN), '..', part);
    const to = path.join(root, 'extensions', 'autologging', part);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(from, to);
  }
  return path.join(root, 'extensions', 'autologging', 'bin', 'autologging.cjs');
}

function startLink(bin: string, home: string, neu: NeutralinoDouble) {
  const child = spawn(process.execPath, [bin, '--home', home, 'link'], {
    env: cliEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Neutralino writes the launch JSON and leaves standard input open.
  child.stdin.write(neu.launchJson());
  cleanups.push(() => {
    if (child.exitCode === null) child.kill();
  });
  return { child, exited, output: () => output };
}

/** Stops the agent the bridge left running, by its pid, and waits until it is gone. */
function stopAgentAfterwards(home: string) {
  cleanups.push(async () => {
    const info = readAgentInfo(homePaths(home));
    if (!info) return;
    process.kill(info.pid, 'SIGTERM');
    await eventually(() => !isAlive(info.pid), 30_000);
  });
}

function statusOver(address: string, token: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${address}?token=${encodeURIComponent(token)}`);
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'status.get' })));
    ws.on('message', (data) => {
      resolve(JSON.parse(String(data)) as Record<string, unknown>);
      ws.close();
    });
    ws.on('error', reject);
  });
}

/** Resolves with the exit code, or rejects if the process is still there after `ms`. */
function exitWithin(exited: Promise<number | null>, ms: number) {
  return Promise.race([
    exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('link did not exit')), ms)),
  ]);
}

describe('autologging link', () => {
  it('starts the agent, hands the window its address and token, and exits when Neutralino closes', async () => {
    const bin = installWithSpaces();
    const home = path.join(tempDir(), 'data folder with spaces');
    const neu = await startNeutralinoDouble({ extensionId: EXTENSION_ID });
    cleanups.push(() => neu.close());
    stopAgentAfterwards(home);

    const link = startLink(bin, home, neu);
    const handed = (await neu.nextBroadcast('autologging.agent')) as {
      address: string;
      token: string;
    };
    expect(handed).toEqual(readAccess(homePaths(home)));
    expect(handed.address).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/rpc$/);
    expect(await statusOver(handed.address, handed.token)).toMatchObject({ result: { home } });
    expect(neu.refused).toEqual([]);

    // The window asks again (it may have connected after the first broadcast).
    neu.dispatch('autologging.hello', {});
    expect(await neu.nextBroadcast('autologging.agent')).toEqual(handed);

    const agentPid = readAgentInfo(homePaths(home))!.pid;
    neu.closeExtensions();
    expect(await exitWithin(link.exited, 10_000)).toBe(0);
    expect(isAlive(agentPid)).toBe(true);
    expect(readAccess(homePaths(home))).toEqual(handed);
  });

  it('hands over the agent that already runs instead of starting another', async () => {
    const bin = installWithSpaces();
    const home = path.join(tempDir(), 'shared home');
    const neu = await startNeutralinoDouble({ extensionId: EXTENSION_ID });
    cleanups.push(() => neu.close());
    stopAgentAfterwards(home);

    const first = startLink(bin, home, neu);
    const handed = await neu.nextBroadcast('autologging.agent');
    const pid = readAgentInfo(homePaths(home))!.pid;
    neu.closeExtensions();
    await exitWithin(first.exited, 10_000);

    const second = startLink(bin, home, neu);
    expect(await neu.nextBroadcast('autologging.agent')).toEqual(handed);
    expect(readAgentInfo(homePaths(home))!.pid).toBe(pid);
    neu.closeExtensions();
    expect(await exitWithin(second.exited, 10_000)).toBe(0);
  });

  it('refuses launch input that is not Neutralino JSON', async () => {
    const home = tempDir();
    const child = spawn(process.execPath, [BIN, '--home', home, 'link'], {
      env: cliEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.stdin.end('{"nlPort": "1"}\n');
    expect(await exited).toBe(1);
    expect(stderr).toMatch(/ELINKINPUT/);
  });
});

describe('neutralino.config.json', () => {
  it('starts the extension with files that exist, under the id the bridge answers to', () => {
    const root = path.resolve(import.meta.dirname, '..');
    const config = JSON.parse(fs.readFileSync(path.join(root, 'neutralino.config.json'), 'utf8'));
    const [extension] = config.extensions as Array<Record<string, string>>;
    expect(extension!.id).toBe(EXTENSION_ID);
    expect(config.modes.window.title).toBe('StartLogging');
    for (const key of ['commandLinux', 'commandDarwin']) {
      const words = [...extension![key]!.matchAll(/"([^"]+)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
      const [node, script, mode] = words.map((w) => w.replace('${NL_PATH}', root));
      expect(fs.existsSync(node!), node).toBe(true);
      expect(fs.existsSync(script!), script).toBe(true);
      expect(mode).toBe('link');
    }
    expect(extension!.commandWindows).toMatch(/autologging\.cjs" link$/);
  });
});
