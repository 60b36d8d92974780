import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Agent } from '../agent.ts';
import { windowsDpapi } from '../crypto/dpapi.ts';
import { Keyring } from '../crypto/keyring.ts';
import { AutoLoggingError, errorCode } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { runCommand, type CommandRunner } from '../platform/command.ts';
import { builtInSources } from '../sources/registry.ts';
import type { SourcePlugin } from '../sources/types.ts';
import { newToken, removeToken, sameToken, writeToken } from './access.ts';
import { METHODS, type MethodContext } from './methods.ts';
import type { KeyringOpener } from './protect-methods.ts';
import { RPC_PATH, type RpcError, type RpcResponse } from './protocol.ts';
import { serveWindowFile } from './static-files.ts';

/** How the RPC server is set up; every option but `agent` and `log` has a default. */
export interface LinkServerOptions {
  agent: Agent;
  log: Logger;
  /** The built window to serve over HTTP (browser mode), or null to serve none. */
  windowDir?: string | null;
  /** Runs the program that opens folders. Default: real processes. */
  run?: CommandRunner;
  platform?: NodeJS.Platform;
  /** Replaces the system's folder opener (`AUTOLOGGING_OPEN_WITH`). */
  openWith?: string | undefined;
  plugins?: ReadonlyMap<string, SourcePlugin<unknown>>;
  /** `AUTOLOGGING_PASSPHRASE`, for unlocking the keyring when keys are managed from the window. */
  passphrase?: string | undefined;
  /** Unlocks the keyring. Default: DPAPI on Windows, else the passphrase or the key file. */
  unlockKeyring?: KeyringOpener;
  /** The largest message accepted, in bytes. Default 1 MiB; a larger one closes the socket. */
  maxMessageBytes?: number;
  /** Port to listen on. Default 0: a random free port. */
  port?: number;
  /** Write `link.token` and publish the address in agent.json. Default true. */
  publish?: boolean;
  now?: () => number;
}

/** A running RPC server. */
export interface LinkServer {
  port: number;
  /** `ws://127.0.0.1:PORT/rpc`. */
  address: string;
  /** The window in browser mode, `http://127.0.0.1:PORT/`, when one is served. */
  windowUrl: string | null;
  /** The token clients give as `?token=`; new at every start. */
  token: string;
  /** Stops accepting, closes every client and removes the token file. */
  close(): Promise<void>;
}

const DEFAULT_MAX_MESSAGE = 1024 * 1024;

/**
 * Serves the agent's RPC surface (JSON over WebSocket at `/rpc`) on 127.0.0.1 only, on a
 * random port, and, in browser mode, the built window over HTTP on the same port.
 *
 * A connection is accepted only with the token of this start (`?token=`), a Host header that
 * names this port on 127.0.0.1 or localhost (so a DNS-rebound name is refused), and either no
 * Origin (a local program) or a loopback origin: this port's own page, or the Neutralino
 * window's `http://localhost:<port>`. Anything else is refused before the WebSocket opens. A
 * message over `maxMessageBytes` closes that socket (1009); a malformed one gets an error
 * answer. Neither affects other clients.
 */
export async function startLinkServer(options: LinkServerOptions): Promise<LinkServer> {
  const { agent } = options;
  const log = options.log.child('link');
  const token = newToken();
  const run = options.run ?? runCommand;
  const context: Omit<MethodContext, 'connection'> = {
    agent,
    log,
    run,
    platform: options.platform ?? process.platform,
    openWith: options.openWith,
    plugins: options.plugins ?? builtInSources,
    unlockKeyring:
      options.unlockKeyring ??
      (() =>
        Keyring.unlock({
          home: agent.paths.home,
          passphrase: options.passphrase,
          dpapi: windowsDpapi(run),
        })),
    ...(options.now ? { now: options.now } : {}),
  };
  const sockets = new Set<Socket>();
  let port = 0;

  const hostAllowed = (host: string | undefined) =>
    host === `127.0.0.1:${port}` || host === `localhost:${port}`;
  const securityHeaders = () => ({
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy':
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
      `img-src 'self' data:; connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}; ` +
      "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  });

  const server = http.createServer((req, res) => {
    if (!hostAllowed(req.headers.host)) {
      res.writeHead(421, { 'Content-Type': 'text/plain; charset=utf-8' }).end('wrong host');
      return;
    }
    if (!options.windowDir) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('no window here');
      return;
    }
    serveWindowFile(options.windowDir, req, res, securityHeaders());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE,
    perMessageDeflate: false,
  });
  server.on('upgrade', (req, socket, head) => {
    // A client that resets mid-handshake must not take the agent down with it.
    socket.on('error', () => socket.destroy());
    const refusal = refuse(req, token, hostAllowed);
    if (refusal) {
      log.warn('window connection refused', { reason: refusal.reason });
      socket.end(`HTTP/1.1 ${refusal.status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) =>
      // Each connection has its own OTP unlock: another window or tab must unlock for itself.
      serveClient(ws, { ...context, connection: { otpUnlockedUntil: 0 } }),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const address = `ws://127.0.0.1:${port}${RPC_PATH}`;
  if (options.publish !== false) {
    writeToken(agent.paths, token);
    agent.linkAddress = address;
  }
  log.info('window bridge listening', { address });

  return {
    port,
    address,
    windowUrl: options.windowDir ? `http://127.0.0.1:${port}/` : null,
    token,
    async close() {
      if (options.publish !== false) {
        agent.linkAddress = null;
        removeToken(agent.paths, token);
      }
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** Why an upgrade request is refused, or null to accept it. */
function refuse(
  req: http.IncomingMessage,
  token: string,
  hostAllowed: (host: string | undefined) => boolean,
): { status: string; reason: string } | null {
  if (!hostAllowed(req.headers.host)) return { status: '421 Misdirected Request', reason: 'host' };
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://127.0.0.1');
  } catch {
    return { status: '400 Bad Request', reason: 'url' };
  }
  if (url.pathname !== RPC_PATH) return { status: '404 Not Found', reason: 'path' };
  const origin = req.headers.origin;
  if (origin !== undefined && !isLoopbackOrigin(origin)) {
    return { status: '403 Forbidden', reason: 'origin' };
  }
  const given = url.searchParams.get('token');
  if (!given || !sameToken(given, token)) return { status: '401 Unauthorized', reason: 'token' };
  return null;
}

/**
 * True for `http://127.0.0.1:<port>` and `http://localhost:<port>`: this agent's own page or
 * the Neutralino window, which Neutralino serves from its own loopback port. The token is
 * still required; the check keeps every web site out, even one that learned a token.
 */
export function isLoopbackOrigin(origin: string): boolean {
  return /^http:\/\/(127\.0\.0\.1|localhost)(:\d{1,5})?$/.test(origin);
}

function serveClient(ws: WebSocket, context: MethodContext): void {
  ws.on('error', (error) => context.log.debug('window socket error', { code: errorCode(error) }));
  ws.on('message', (data: RawData, isBinary: boolean) => {
    void answer(data, isBinary, context).then((response) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(response));
    });
  });
}

/** Reads one message and runs its method; never throws: every failure becomes an error answer. */
async function answer(
  data: RawData,
  isBinary: boolean,
  context: MethodContext,
): Promise<RpcResponse> {
  let request: unknown;
  try {
    if (isBinary) throw new Error('binary');
    request = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : String(data));
  } catch {
    return { id: null, error: { code: 'EBADMESSAGE', message: 'a request is one JSON object' } };
  }
  const r = request as { id?: unknown; method?: unknown; params?: unknown } | null;
  const id = typeof r?.id === 'string' || typeof r?.id === 'number' ? r.id : null;
  if (id === null || typeof r?.method !== 'string') {
    return {
      id,
      error: { code: 'EBADMESSAGE', message: 'a request needs an "id" and a "method"' },
    };
  }
  const method = Object.hasOwn(METHODS, r.method) ? METHODS[r.method] : undefined;
  if (!method) {
    return { id, error: { code: 'ENOMETHOD', message: `no method ${JSON.stringify(r.method)}` } };
  }
  const params = method.params.safeParse(r.params);
  if (!params.success) {
    const issue = params.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    return { id, error: { code: 'EPARAMS', message: `${where}${issue?.message ?? 'bad params'}` } };
  }
  try {
    return { id, result: (await method.handle(params.data, context)) ?? null };
  } catch (error) {
    if (!(error instanceof AutoLoggingError)) {
      context.log.error('window request failed', { method: r.method, code: errorCode(error) });
    }
    return { id, error: toRpcError(error) };
  }
}

function toRpcError(error: unknown): RpcError {
  const message = error instanceof Error ? error.message : String(error);
  const problems = (error as { problems?: Array<{ path: string; message: string; code?: string }> })
    ?.problems;
  return {
    code: errorCode(error),
    message,
    ...(Array.isArray(problems)
      ? {
          problems: problems.map((p) => ({
            path: p.path,
            message: p.message,
            ...(p.code ? { code: p.code } : {}),
          })),
        }
      : {}),
  };
}
