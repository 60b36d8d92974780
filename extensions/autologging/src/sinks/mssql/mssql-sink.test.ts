import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../log/logger.ts';
import { Forwarder } from './forwarder.ts';
import { MssqlSink } from './mssql-sink.ts';
import { mssqlSettings } from './settings.ts';

const PASSWORD = 'N0t-F0r-L0gs!';
const servers: net.Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A port on 127.0.0.1 where `onConnection` answers (or nothing listens, when omitted). */
async function port(onConnection?: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer(onConnection ?? (() => {}));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  if (onConnection) servers.push(server);
  else await new Promise((r) => server.close(r));
  return port;
}

/** A TDS packet: type, end-of-message status, length, then the payload. */
function packet(type: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt8(type, 0);
  header.writeUInt8(0x01, 1);
  header.writeUInt16BE(payload.length + 8, 2);
  header.writeUInt8(1, 6);
  return Buffer.concat([header, payload]);
}

const ucs2 = (text: string) => Buffer.from(text, 'utf16le');

/**
 * Just enough of SQL Server to refuse a login: answers PRELOGIN without encryption, then
 * answers LOGIN7 with the error `number` and a DONE, as a server does for a bad password.
 */
function refusingServer(number: number, message: string) {
  return (socket: net.Socket) => {
    let messages = 0;
    socket.on('data', () => {
      messages++;
      if (messages === 1) {
        // PRELOGIN options: VERSION (6 bytes) and ENCRYPTION = NOT_SUP, then the terminator.
        const options = Buffer.from([0x00, 0, 11, 0, 6, 0x01, 0, 17, 0, 1, 0xff]);
        const data = Buffer.from([16, 0, 0x0f, 0xa0, 0, 0, 0x02]);
        socket.write(packet(0x04, Buffer.concat([options, data])));
      } else {
        const text = ucs2(message);
        const body = Buffer.concat([
          Buffer.from(Uint32Array.of(number).buffer),
          Buffer.from([1, 14]),
          Buffer.from(Uint16Array.of(message.length).buffer),
          text,
          Buffer.from([0]),
          Buffer.from([0]),
          Buffer.from(Uint32Array.of(1).buffer),
        ]);
        const error = Buffer.concat([
          Buffer.from([0xaa]),
          Buffer.from(Uint16Array.of(body.length).buffer),
          body,
        ]);
        const done = Buffer.from([0xfd, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        socket.write(packet(0x04, Buffer.concat([error, done])));
      }
    });
  };
}

function forwarderAt(serverPort: number, encrypt = true) {
  const log = memoryLogger();
  const settings = mssqlSettings.parse({
    server: '127.0.0.1',
    port: serverPort,
    database: 'AutoLogging',
    authentication: 'sql',
    user: 'autologging',
    password: PASSWORD,
    connectTimeoutMs: 2_000,
    encrypt,
  });
  const forwarder = new Forwarder({
    journal: { changes: () => [], lastRev: () => 0, runsAfter: () => [] },
    sink: new MssqlSink(settings, { log }),
    agent: 'test',
    maxAttempts: 2,
    sleep: async () => {},
    log,
  });
  return { forwarder, log };
}

describe('MssqlSink without a server', () => {
  it('retries a refused connection on a new pool, naming the server, never the password', async () => {
    const { forwarder, log } = forwarderAt(await port());

    const error = await forwarder.forward().catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'EMSSQLCONNECTION', recovery: 'reconnect' });
    expect((error as Error).message).toContain('127.0.0.1');
    const status = forwarder.status();
    expect(status).toMatchObject({ state: 'retrying', attempts: 2 });
    const everything = JSON.stringify({ status, entries: log.entries, error: String(error) });
    expect(everything).not.toContain(PASSWORD);
  });

  it('stops on a refused login (18456) and says so in its status', async () => {
    const message = "Login failed for user 'autologging'.";
    const { forwarder } = forwarderAt(await port(refusingServer(18456, message)), false);

    await expect(forwarder.forward()).rejects.toMatchObject({
      code: 'EMSSQLLOGIN',
      recovery: 'stop',
    });
    expect(forwarder.status()).toMatchObject({
      state: 'stopped',
      attempts: 0,
      lastError: { code: 'EMSSQLLOGIN', number: 18456 },
    });
    expect(forwarder.status().lastError!.message).toContain(message);
  });

  it('waits for a database that cannot be opened yet (4060) instead of stopping', async () => {
    const message = 'Cannot open database "AutoLogging" requested by the login. The login failed.';
    const { forwarder } = forwarderAt(await port(refusingServer(4060, message)), false);

    await expect(forwarder.forward()).rejects.toMatchObject({ code: 'EMSSQLUNAVAILABLE' });
    expect(forwarder.status().state).toBe('retrying');
  });

  it('retries a server that drops the connection at once', async () => {
    const { forwarder } = forwarderAt(await port((socket) => socket.destroy()));
    await expect(forwarder.forward()).rejects.toMatchObject({ recovery: 'reconnect' });
    expect(forwarder.status().state).toBe('retrying');
  });
});
