import { describe, expect, it } from 'vitest';
import { port, refusingServer } from '../../../../../tests/support/tds-server.ts';
import { memoryLogger } from '../../log/logger.ts';
import { Forwarder } from './forwarder.ts';
import { MssqlSink } from './mssql-sink.ts';
import { mssqlSettings } from './settings.ts';

const PASSWORD = 'N0t-F0r-L0gs!';
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
