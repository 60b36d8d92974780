import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Agent } from '../extensions/autologging/src/agent.ts';
import { readAccess, tokenFile } from '../extensions/autologging/src/link/access.ts';
import { startLinkServer, type LinkServer } from '../extensions/autologging/src/link/server.ts';
import { memoryLogger } from '../extensions/autologging/src/log/logger.ts';
import type { CommandRunner } from '../extensions/autologging/src/platform/command.ts';
import { readAgentInfo } from '../extensions/autologging/src/platform/agent-lock.ts';
import { demoSettings, homeWith } from './support/home.ts';

// The agent's RPC surface, in process: who may connect, what a bad message gets, and what the
// window's methods answer.

const running: Array<{ agent: Agent; server: LinkServer }> = [];

afterEach(async () => {
  for (const { agent, server } of running.splice(0)) {
    await server.close();
    await agent.stop(1000);
  }
});

async function serve(options: { maxMessageBytes?: number; run?: CommandRunner } = {}) {
  const home = homeWith(demoSettings());
  const agent = Agent.open({ home, log: memoryLogger() });
  agent.start();
  await agent.caughtUp();
  const server = await startLinkServer({
    agent,
    log: memoryLogger(),
    windowDir: null,
    platform: 'linux',
    ...options,
  });
  running.push({ agent, server });
  return { agent, server, home };
}

type Attempt = { opened: true; ws: WebSocket } | { opened: false; status: number };

/** Opens a WebSocket and reports whether the server accepted it, or its refusal status. */
function attempt(url: string, options: WebSocket.ClientOptions = {}): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve({ opened: true, ws }));
    ws.once('unexpected-response', (_req, res) =>
      resolve({ opened: false, status: res.statusCode ?? 0 }),
    );
    ws.once('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

/** The status code of a GET of `pathname` on `port`, with `host` as the Host header. */
function httpStatus(port: number, pathname: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathname, headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

/** A connected client that sends raw frames and awaits answers. */
async function client(server: LinkServer) {
  const result = await attempt(`${server.address}?token=${server.token}`);
  if (!result.opened) throw new Error(`refused with ${result.status}`);
  const ws = result.ws;
  const answers: unknown[] = [];
  const waiting: Array<(value: unknown) => void> = [];
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as unknown;
    const next = waiting.shift();
    if (next) next(message);
    else answers.push(message);
  });
  const receive = () =>
    new Promise<Record<string, unknown>>((resolve) => {
      const ready = answers.shift();
      if (ready) resolve(ready as Record<string, unknown>);
      else waiting.push(resolve as (value: unknown) => void);
    });
  let id = 0;
  return {
    ws,
    send: (raw: string | Buffer) => ws.send(raw),
    receive,
    async call(method: string, params?: unknown) {
      ws.send(JSON.stringify({ id: ++id, method, params }));
      return receive();
    },
  };
}

describe('RPC security', () => {
  it('refuses a connection without the token or with a wrong one', async () => {
    const { server } = await serve();
    expect(await attempt(server.address)).toEqual({ opened: false, status: 401 });
    const wrong = await attempt(`${server.address}?token=${'x'.repeat(server.token.length)}`);
    expect(wrong).toEqual({ opened: false, status: 401 });
  });

  it('refuses a Host header that is not 127.0.0.1 or localhost with its port (DNS rebinding)', async () => {
    const { server } = await serve();
    const url = `${server.address}?token=${server.token}`;
    for (const host of [
      `evil.example:${server.port}`,
      `127.0.0.1:${server.port + 1}`,
      'localhost',
    ]) {
      expect(await attempt(url, { headers: { Host: host } })).toEqual({
        opened: false,
        status: 421,
      });
    }
    const local = await attempt(url, { headers: { Host: `localhost:${server.port}` } });
    expect(local.opened).toBe(true);
    if (local.opened) local.ws.close();
  });

  it('refuses a foreign Origin and accepts loopback pages', async () => {
    const { server } = await serve();
    const url = `${server.address}?token=${server.token}`;
    for (const origin of ['https://evil.example', 'http://127.0.0.1.evil.example:80', 'null']) {
      expect(await attempt(url, { origin })).toEqual({ opened: false, status: 403 });
    }
    for (const origin of [`http://127.0.0.1:${server.port}`, 'http://localhost:5678']) {
      const ok = await attempt(url, { origin });
      expect(ok.opened).toBe(true);
      if (ok.opened) ok.ws.close();
    }
  });

  it('answers malformed messages with an error and keeps serving every client', async () => {
    const { server } = await serve();
    const c = await client(server);
    c.send('not json');
    expect(await c.receive()).toMatchObject({ id: null, error: { code: 'EBADMESSAGE' } });
    c.send(Buffer.from([0, 1, 2]));
    expect(await c.receive()).toMatchObject({ id: null, error: { code: 'EBADMESSAGE' } });
    c.send(JSON.stringify({ method: 'status.get' }));
    expect(await c.receive()).toMatchObject({ error: { code: 'EBADMESSAGE' } });
    expect(await c.call('no.such')).toMatchObject({ id: 1, error: { code: 'ENOMETHOD' } });
    expect(await c.call('__proto__')).toMatchObject({ error: { code: 'ENOMETHOD' } });
    expect(await c.call('schedule.preview', { cron: 5 })).toMatchObject({
      error: { code: 'EPARAMS' },
    });
    expect(await c.call('status.get')).toMatchObject({ result: { pid: process.pid } });
  });

  it('serves the window only to its own host, and survives a malformed path', async () => {
    const { server, agent } = await serve();
    const get = (pathname: string, host: string) => httpStatus(server.port, pathname, host);
    expect(await get('/', `rebound.example:${server.port}`)).toBe(421);
    expect(await get('/%E0%A4%A', `127.0.0.1:${server.port}`)).toBe(404);
    const windowDir = path.join(agent.paths.home, 'window');
    fs.mkdirSync(windowDir);
    fs.writeFileSync(path.join(windowDir, 'index.html'), '<!doctype html>');
    const withWindow = await startLinkServer({
      agent,
      log: memoryLogger(),
      windowDir,
      publish: false,
    });
    try {
      const host = `localhost:${withWindow.port}`;
      const at = (p: string) => httpStatus(withWindow.port, p, host);
      expect(await at('/')).toBe(200);
      expect(await at('/%E0%A4%A')).toBe(400);
      expect(await at('/../settings.json')).toBe(404);
      expect(await at('/%2e%2e/settings.json')).toBe(404);
      expect(await at('/__neutralino_globals.js')).toBe(200);
    } finally {
      await withWindow.close();
    }
    const c = await client(server);
    expect(await c.call('status.get')).toHaveProperty('result');
  });

  it('closes a socket that sends an oversized frame, and other clients go on', async () => {
    const { server } = await serve({ maxMessageBytes: 64 * 1024 });
    const good = await client(server);
    const bad = await client(server);
    const closed = new Promise<number>((resolve) => bad.ws.on('close', (code) => resolve(code)));
    bad.send(JSON.stringify({ id: 1, method: 'status.get', params: { pad: 'x'.repeat(100_000) } }));
    expect(await closed).toBe(1009);
    expect(await good.call('status.get')).toMatchObject({
      result: { version: expect.any(String) },
    });
  });

  it('publishes its address in agent.json and the token in an owner-only file', async () => {
    const { agent, server } = await serve();
    expect(readAgentInfo(agent.paths)?.address).toBe(server.address);
    expect(readAccess(agent.paths)).toEqual({ address: server.address, token: server.token });
    if (process.platform !== 'win32') {
      expect(fs.statSync(tokenFile(agent.paths)).mode & 0o777).toBe(0o600);
    }
  });
});

describe('RPC methods', () => {
  it('previews the next five runs of a cron in the configured zone, and names a bad one', async () => {
    const { server } = await serve();
    const c = await client(server);
    const answer = await c.call('schedule.preview', { cron: '0 9 * * *' });
    const result = answer.result as { timeZone: string; runs: number[] };
    expect(result.timeZone).toBe('Asia/Seoul');
    expect(result.runs).toHaveLength(5);
    for (const run of result.runs) expect(new Date(run).getUTCHours()).toBe(0);
    expect(await c.call('schedule.preview', { cron: '61 * * * *' })).toMatchObject({
      error: { code: 'ECRON' },
    });
  });

  it('saves valid settings into the vault and applies them, and refuses invalid ones by field', async () => {
    const { agent, server, home } = await serve();
    const c = await client(server);
    const { result } = (await c.call('settings.get')) as {
      result: { settings: Record<string, unknown> };
    };
    const settings = structuredClone(result.settings) as {
      sources: Array<Record<string, unknown>>;
    };
    settings.sources.push({
      id: 'odata',
      kind: 'citrix-odata',
      enabled: false,
      options: { mode: 'onprem', url: 'http://127.0.0.1:9/', user: 'svc', password: 'Pa55-word' },
    });
    expect(await c.call('settings.save', { settings })).toHaveProperty('result');
    expect(agent.settings.sources.map((s) => s.id)).toContain('odata');
    const written = fs.readFileSync(path.join(home, 'settings.json'), 'utf8');
    expect(written).not.toContain('Pa55-word');
    expect(written).toContain('"$secret"');

    settings.sources[0]!.schedule = 'not a cron';
    const refused = await c.call('settings.save', { settings });
    expect(refused).toMatchObject({ error: { code: 'ESETTINGS' } });
    const problems = (refused.error as { problems: Array<{ path: string }> }).problems;
    expect(problems.map((p) => p.path)).toContain('sources[0].schedule');
    expect(agent.settings.sources[0]!.schedule.cron).toBe('*/5 * * * *');
  });

  it('reports the overview with pseudonyms only, and asks the OS to open the Excel folder', async () => {
    const calls: Array<[string, readonly string[]]> = [];
    const run: CommandRunner = async (file, args) => {
      calls.push([file, args]);
      return { stdout: '', stderr: '', exitCode: 0 };
    };
    const { agent, server } = await serve({ run });
    const c = await client(server);
    const overview = (await c.call('report.overview')).result as {
      concurrent7: unknown[];
      concurrent30: unknown[];
      logonsPerDay: unknown[];
      failures: Array<{ user?: string }>;
      agent: { running: boolean };
    };
    expect(overview.agent.running).toBe(true);
    expect(overview.logonsPerDay).toHaveLength(30);
    expect(overview.concurrent30.length).toBeGreaterThan(overview.concurrent7.length);
    for (const f of overview.failures) if (f.user) expect(f.user).toMatch(/^U-[0-9A-F]{8}$/);

    expect(await c.call('excel.openFolder')).toMatchObject({ result: { program: 'xdg-open' } });
    expect(calls).toEqual([['xdg-open', [agent.exportsFolder]]]);
    expect(await c.call('keys.status')).toMatchObject({ result: { protector: 'key-file' } });
    expect(await c.call('db.status')).toMatchObject({ result: { configured: false } });
  });
});
