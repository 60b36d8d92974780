/**
 * A stand-in for the Neutralino runtime's WebSocket server, as an extension sees it: it hands
 * out the launch JSON an extension reads on standard input (`nlPort`, `nlToken`,
 * `nlConnectToken`, `nlExtensionId`), accepts an extension only at
 * `ws://127.0.0.1:PORT?extensionId=ID&connectToken=TOKEN` with a known id and the right
 * connect token, answers native calls `{ id, method, accessToken, data }` with
 * `{ id, method, data }` (an `error` inside `data` when the access token is wrong or the
 * method unknown), records `app.broadcast` events as the window would receive them, and sends
 * the extension `{ event, data }` messages as `Neutralino.extensions.dispatch` does.
 *
 * @example
 * const neu = await startNeutralinoDouble({ extensionId: 'kr.startlogging.autologging' });
 * child.stdin.write(neu.launchJson());
 * const access = await neu.nextBroadcast('autologging.agent');
 * neu.closeExtensions(); // as when the window closes and Neutralino exits
 */
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** One event an extension broadcast to the app's windows. */
export interface Broadcast {
  event: string;
  data: unknown;
}

/** The running double. */
export interface NeutralinoDouble {
  port: number;
  token: string;
  connectToken: string;
  /** What Neutralino writes to the extension's standard input. */
  launchJson(): string;
  /** Every broadcast so far, in order. */
  broadcasts: Broadcast[];
  /** Calls the extension made with a wrong access token, or to a method not allowed. */
  refused: Array<{ method: string; code: string }>;
  /** Resolves with the data of the next broadcast of `event` not yet taken. */
  nextBroadcast(event: string, ms?: number): Promise<unknown>;
  /** Resolves when an extension is connected. */
  connected(ms?: number): Promise<void>;
  /** Sends every connected extension `{ event, data }`. */
  dispatch(event: string, data?: unknown): void;
  /** Closes every extension socket, as Neutralino's exit does. */
  closeExtensions(): void;
  close(): Promise<void>;
}

/** Starts the double on 127.0.0.1 with one loaded extension, `extensionId`. */
export async function startNeutralinoDouble(options: {
  extensionId: string;
  /** The native methods the app's `nativeAllowList` allows. Default: `app.broadcast`. */
  allow?: readonly string[];
}): Promise<NeutralinoDouble> {
  const token = crypto.randomBytes(24).toString('base64url');
  const connectToken = crypto.randomBytes(12).toString('hex');
  const allow = new Set(options.allow ?? ['app.broadcast']);
  const extensions = new Set<WebSocket>();
  const broadcasts: Broadcast[] = [];
  const refused: NeutralinoDouble['refused'] = [];
  let taken = 0;
  const listeners: Array<() => void> = [];
  const notify = () => listeners.splice(0).forEach((l) => l());

  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (info: { req: { url?: string } }) => {
      const url = new URL(info.req.url ?? '/', 'http://127.0.0.1');
      return (
        url.searchParams.get('extensionId') === options.extensionId &&
        url.searchParams.get('connectToken') === connectToken
      );
    },
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const port = (wss.address() as AddressInfo).port;

  wss.on('connection', (ws) => {
    extensions.add(ws);
    notify();
    ws.on('close', () => extensions.delete(ws));
    ws.on('message', (raw) => {
      const call = JSON.parse(String(raw)) as {
        id: string;
        method: string;
        accessToken?: string;
        data?: { event?: string; data?: unknown };
      };
      const fail = (code: string, message: string) => {
        refused.push({ method: call.method, code });
        ws.send(
          JSON.stringify({ id: call.id, method: call.method, data: { error: { code, message } } }),
        );
      };
      if (call.accessToken !== token)
        return fail('NE_RT_INVTOKN', 'Invalid or expired NL_TOKEN value');
      if (!allow.has(call.method))
        return fail('NE_RT_NATPRME', `Missing permission to execute ${call.method}`);
      if (call.method === 'app.broadcast') {
        broadcasts.push({ event: String(call.data?.event), data: call.data?.data ?? null });
        notify();
      }
      ws.send(
        JSON.stringify({
          id: call.id,
          method: call.method,
          data: { success: true, message: 'Message sent' },
        }),
      );
    });
  });

  const waitFor = <T>(check: () => T | undefined, ms: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Neutralino double: no ${what}`)), ms);
      const poll = () => {
        const value = check();
        if (value !== undefined) {
          clearTimeout(timer);
          resolve(value);
        } else listeners.push(poll);
      };
      poll();
    });

  return {
    port,
    token,
    connectToken,
    broadcasts,
    refused,
    launchJson: () =>
      JSON.stringify({
        nlPort: String(port),
        nlToken: token,
        nlConnectToken: connectToken,
        nlExtensionId: options.extensionId,
      }) + '\n',
    nextBroadcast: (event, ms = 60_000) =>
      waitFor(
        () => {
          for (let i = taken; i < broadcasts.length; i++) {
            if (broadcasts[i]!.event === event) {
              taken = i + 1;
              return broadcasts[i]!.data;
            }
          }
          return undefined;
        },
        ms,
        `broadcast ${event}`,
      ),
    connected: (ms = 60_000) =>
      waitFor(() => (extensions.size > 0 ? true : undefined), ms, 'extension').then(() => {}),
    dispatch: (event, data = null) => {
      for (const ws of extensions) ws.send(JSON.stringify({ event, data }));
    },
    closeExtensions: () => {
      for (const ws of extensions) ws.close(1001);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of extensions) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
