import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import officeCrypto from 'officecrypto-tool';
import * as OTPAuth from 'otpauth';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Agent } from '../extensions/autologging/src/agent.ts';
import { startLinkServer, type LinkServer } from '../extensions/autologging/src/link/server.ts';
import { memoryLogger } from '../extensions/autologging/src/log/logger.ts';
import { cli } from './support/cli.ts';
import { demoSettings, homeWith } from './support/home.ts';
import { tempDir } from './support/temp.ts';

// The window's key, one-time code and decrypt methods over the real RPC surface, in process,
// with a clock the test moves: the OTP gate per connection, rate-limited and audited codes,
// recovery exports, decrypt exports, and secrets that never reach a log.

const RECOVERY_PASSPHRASE = 'Recovery-Pa55-phrase!';
const WORKBOOK_PASSWORD = 'Workbook-Pa55!';

const running: Array<{ agent: Agent; server: LinkServer }> = [];

afterEach(async () => {
  for (const { agent, server } of running.splice(0)) {
    await server.close();
    await agent.stop(1000);
  }
});

async function serve() {
  const home = homeWith(demoSettings());
  const clock = { now: Date.parse('2026-12-03T01:00:00Z') };
  const now = () => clock.now;
  const agentLog = memoryLogger();
  const agent = Agent.open({ home, log: agentLog });
  const log = memoryLogger();
  const server = await startLinkServer({ agent, log, windowDir: null, platform: 'linux', now });
  running.push({ agent, server });
  const logged = () =>
    JSON.stringify([...log.entries, ...agentLog.entries]) + readLogFiles(agent.paths.logs);
  return { agent, server, home, clock, logged };
}

function readLogFiles(dir: string): string {
  if (!fs.existsSync(dir)) return '';
  return fs
    .readdirSync(dir)
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .join('\n');
}

type Answer = { result?: Record<string, unknown>; error?: { code: string; message: string } };

/** A connected client whose `call` resolves with the answer to its request. */
async function client(server: LinkServer) {
  const ws = new WebSocket(`${server.address}?token=${server.token}`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const waiting = new Map<number, (answer: Answer) => void>();
  ws.on('message', (data) => {
    const answer = JSON.parse(String(data)) as Answer & { id: number };
    waiting.get(answer.id)?.(answer);
    waiting.delete(answer.id);
  });
  let id = 0;
  return {
    close: () => ws.close(),
    call(method: string, params?: unknown): Promise<Answer> {
      const n = ++id;
      return new Promise((resolve) => {
        waiting.set(n, resolve);
        ws.send(JSON.stringify({ id: n, method, params }));
      });
    },
  };
}

/** The TOTP code of `uri` at `at` (epoch ms). */
function totp(uri: string, at: number): string {
  return OTPAuth.URI.parse(uri).generate({ timestamp: at });
}

function auditRows(journal: string): Array<Record<string, unknown>> {
  const db = new DatabaseSync(journal, { readOnly: true });
  try {
    return db.prepare('SELECT * FROM audit ORDER BY id').all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

describe('keys over RPC', () => {
  it('reports protectors, key versions and that no recovery export was made yet', async () => {
    const { server } = await serve();
    const c = await client(server);
    expect((await c.call('keys.status')).result).toMatchObject({
      keyring: true,
      protector: 'key-file',
      protectors: ['key-file'],
      current: 1,
      versions: [{ version: 1 }],
      recoveryExported: false,
      recoveryExportedAt: null,
    });
  });

  it('writes a recovery export into recovery/ or a given absolute path, never logging the passphrase', async () => {
    const { server, home, agent, logged } = await serve();
    const c = await client(server);

    const short = await c.call('keys.exportRecovery', { passphrase: 'short' });
    expect(short.error?.code).toBe('ERECOVERY');
    const relative = await c.call('keys.exportRecovery', {
      passphrase: RECOVERY_PASSPHRASE,
      path: 'recovery.json',
    });
    expect(relative.error?.code).toBe('EPATH');

    const written = await c.call('keys.exportRecovery', { passphrase: RECOVERY_PASSPHRASE });
    const file = String(written.result?.file);
    expect(path.dirname(file)).toBe(path.join(home, 'recovery'));
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).format).toBe('autologging-recovery');
    expect((await c.call('keys.status')).result).toMatchObject({ recoveryExported: true });

    const elsewhere = path.join(tempDir(), 'keys.recovery');
    const given = await c.call('keys.exportRecovery', {
      passphrase: RECOVERY_PASSPHRASE,
      path: elsewhere,
    });
    expect(given.result?.file).toBe(elsewhere);
    expect(fs.existsSync(elsewhere)).toBe(true);

    expect(auditRows(agent.paths.journal).map((r) => r.action)).toContain('recovery-export');
    expect(logged()).not.toContain(RECOVERY_PASSPHRASE);
    expect(fs.readFileSync(file, 'utf8')).not.toContain(RECOVERY_PASSPHRASE);
  });
});

describe('one-time codes over RPC', () => {
  it('sets up codes with a QR SVG and recovery codes, then locks settings until unlocked', async () => {
    const { server, clock } = await serve();
    const c = await client(server);
    expect((await c.call('otp.status')).result).toMatchObject({ enabled: false });
    expect((await c.call('settings.get')).result).toBeDefined();

    const setup = (await c.call('otp.setup')).result!;
    expect(String(setup.uri)).toMatch(/^otpauth:\/\/totp\//);
    expect(String(setup.qrSvg)).toMatch(/^<svg/);
    expect(setup.recoveryCodes).toHaveLength(10);

    for (const method of ['settings.get', 'settings.save', 'decrypt.export']) {
      const params =
        method === 'settings.save'
          ? { settings: demoSettings() }
          : method === 'decrypt.export'
            ? { from: '2026-12-03', to: '2026-12-03', out: '/tmp/x.xlsx', password: 'p' }
            : undefined;
      expect((await c.call(method, params)).error?.code, method).toBe('EOTPREQUIRED');
    }

    const unlocked = await c.call('otp.unlock', { code: totp(String(setup.uri), clock.now) });
    expect(unlocked.result?.unlockedUntil).toBe(clock.now + 30 * 60_000);
    expect((await c.call('settings.get')).result).toBeDefined();
    expect((await c.call('otp.status')).result).toMatchObject({ enabled: true });
  });

  it('keeps an unlock to its own connection and for at most 30 minutes', async () => {
    const { server, clock } = await serve();
    const a = await client(server);
    const b = await client(server);
    const setup = (await a.call('otp.setup')).result!;
    await a.call('otp.unlock', { code: totp(String(setup.uri), clock.now) });

    expect((await a.call('settings.get')).result).toBeDefined();
    expect((await b.call('settings.get')).error?.code).toBe('EOTPREQUIRED');

    b.close();
    const c = await client(server);
    expect((await c.call('settings.get')).error?.code).toBe('EOTPREQUIRED');

    clock.now += 31 * 60_000;
    expect((await a.call('settings.get')).error?.code).toBe('EOTPREQUIRED');
  });

  it('rate-limits wrong codes and audits each one, like the command line', async () => {
    const { server, clock, agent } = await serve();
    const c = await client(server);
    const setup = (await c.call('otp.setup')).result!;

    for (let i = 0; i < 5; i++) {
      expect((await c.call('otp.unlock', { code: '000000' })).error?.code).toBe('EOTP');
    }
    const good = totp(String(setup.uri), clock.now);
    expect((await c.call('otp.unlock', { code: good })).error?.code).toBe('EOTPLOCKED');
    expect((await c.call('settings.get')).error?.code).toBe('EOTPREQUIRED');

    const rows = auditRows(agent.paths.journal);
    expect(rows.map((r) => r.action)).toEqual([...Array(5).fill('otp-failed'), 'otp-locked']);
    expect(rows.every((r) => r.actor_enc !== null && r.subject === 'window unlock')).toBe(true);

    clock.now += 6 * 60_000;
    const later = totp(String(setup.uri), clock.now);
    expect((await c.call('otp.unlock', { code: later })).result).toBeDefined();
  });

  it('switches codes off only with a valid code', async () => {
    const { server } = await serve();
    const c = await client(server);
    const setup = (await c.call('otp.setup')).result!;
    expect((await c.call('otp.disable', { code: '123456' })).error?.code).toBe('EOTP');
    const codes = setup.recoveryCodes as string[];
    expect((await c.call('otp.disable', { code: codes[0] })).result).toMatchObject({
      enabled: false,
    });
    expect((await c.call('settings.get')).result).toBeDefined();
    expect((await c.call('otp.setup')).result).toBeDefined();
    const again = await c.call('otp.setup');
    expect(again.error?.code).toBe('EOTPREQUIRED');
  });
});

describe('decrypt export over RPC', () => {
  it('writes an encrypted, audited workbook after an unlock and a code, never logging the password', async () => {
    const { server, clock, agent, logged } = await serve();
    const c = await client(server);
    const setup = (await c.call('otp.setup')).result!;
    const codes = setup.recoveryCodes as string[];
    await c.call('otp.unlock', { code: totp(String(setup.uri), clock.now) });

    const out = path.join(tempDir(), 'decrypted.xlsx');
    const params = { from: '2026-12-02', to: '2026-12-03', out, password: WORKBOOK_PASSWORD };
    expect((await c.call('decrypt.export', params)).error?.code).toBe('EOTPREQUIRED');
    expect((await c.call('decrypt.export', { ...params, to: '2026-12-01' })).error?.code).toBe(
      'ERANGE',
    );
    const written = await c.call('decrypt.export', { ...params, otp: codes[1] });
    expect(written.result?.file).toBe(out);
    expect(officeCrypto.isEncrypted(fs.readFileSync(out))).toBe(true);

    expect(auditRows(agent.paths.journal).map((r) => r.action)).toContain('decrypt');
    expect(logged()).not.toContain(WORKBOOK_PASSWORD);
  });
});

describe('settings changes are audited', () => {
  it('writes which sections and sources a window save changed, without values or the actor in plain text', async () => {
    const { server, agent } = await serve();
    const c = await client(server);
    const settings = demoSettings();
    (settings.sources as Array<Record<string, unknown>>)[1]!.schedule = '*/2 * * * *';
    settings.excel = { language: 'en' };
    expect((await c.call('settings.save', { settings })).result).toBeDefined();

    const rows = auditRows(agent.paths.journal).filter((r) => r.action === 'settings.change');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ subject: 'window' });
    expect(JSON.parse(String(rows[0]!.detail))).toEqual({
      sections: ['excel', 'sources'],
      sources: ['host'],
    });
    expect(rows[0]!.actor_enc).not.toBeNull();
    expect(String(rows[0]!.detail)).not.toContain('*/2');
  });

  it('writes one for source add, set and remove on the command line', () => {
    const home = homeWith(demoSettings());
    for (const args of [
      ['source', 'add', 'demo', '--id', 'demo2', '--set', 'users=3'],
      ['source', 'set', 'demo2', 'users=4'],
      ['source', 'remove', 'demo2'],
    ]) {
      const ran = cli(['--home', home, ...args]);
      expect(ran.code, ran.stderr).toBe(0);
    }
    const rows = auditRows(path.join(home, 'journal.db')).filter(
      (r) => r.action === 'settings.change',
    );
    expect(rows.map((r) => [r.subject, JSON.parse(String(r.detail))])).toEqual([
      ['cli', { sections: ['sources'], sources: ['demo2'] }],
      ['cli', { sections: ['sources'], sources: ['demo2'] }],
      ['cli', { sections: ['sources'], sources: ['demo2'] }],
    ]);
  });
});
