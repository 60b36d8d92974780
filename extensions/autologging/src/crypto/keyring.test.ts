import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../../tests/support/temp.ts';
import type { CommandRunner } from '../platform/command.ts';
import { windowsDpapi } from './dpapi.ts';
import { FieldCipher } from './field-cipher.ts';
import {
  Keyring,
  keyringProtectors,
  openKeyring,
  recoveryExportedAt,
  wipeKeys,
} from './keyring.ts';

/**
 * A stand-in for PowerShell's DPAPI on one machine: it reads the base64 from the script and
 * seals it under a key of that "machine", so another fake machine cannot unprotect it.
 */
function fakeWindows(machineKey = crypto.randomBytes(32)) {
  const calls: string[][] = [];
  const run: CommandRunner = async (file, args, options) => {
    calls.push([file, ...args]);
    const script = args[args.length - 1]!;
    // The key arrives on standard input, never on the command line.
    if (!script.includes('[Console]::In.ReadToEnd()')) {
      return { stdout: '', stderr: 'no input read', exitCode: 1 };
    }
    const input = Buffer.from(options?.input ?? '', 'base64');
    const method = /ProtectedData\]::(Protect|Unprotect)/.exec(script)![1];
    if (!script.includes('DataProtectionScope]::LocalMachine')) {
      return { stdout: '', stderr: 'wrong scope', exitCode: 1 };
    }
    if (method === 'Protect') {
      const nonce = crypto.randomBytes(12);
      const c = crypto.createCipheriv('aes-256-gcm', machineKey, nonce);
      const body = Buffer.concat([c.update(input), c.final(), c.getAuthTag()]);
      return {
        stdout: Buffer.concat([nonce, body]).toString('base64') + '\r\n',
        stderr: '',
        exitCode: 0,
      };
    }
    try {
      const d = crypto.createDecipheriv('aes-256-gcm', machineKey, input.subarray(0, 12));
      d.setAuthTag(input.subarray(input.length - 16));
      const plain = Buffer.concat([d.update(input.subarray(12, input.length - 16)), d.final()]);
      return { stdout: plain.toString('base64'), stderr: '', exitCode: 0 };
    } catch {
      return { stdout: '', stderr: 'Key not valid for use in specified state.', exitCode: 1 };
    }
  };
  return { run, calls, dpapi: windowsDpapi(run, 'win32')! };
}

/** A keyring file as AutoLogging 0.1 wrote it. */
function writeV1Keyring(home: string, passphrase: string | null): Buffer {
  const secret = passphrase
    ? Buffer.from(passphrase, 'utf8')
    : (() => {
        const raw = crypto.randomBytes(32);
        fs.writeFileSync(path.join(home, 'keyring.secret'), raw.toString('base64'), {
          mode: 0o600,
        });
        return raw;
      })();
  const salt = crypto.randomBytes(16);
  const kdf = { N: 1 << 14, r: 8, p: 1 };
  const wrapKey = crypto.scryptSync(secret, salt, 32, { ...kdf, maxmem: 64 << 20 });
  const raw = crypto.randomBytes(64);
  const nonce = crypto.randomBytes(12);
  const c = crypto
    .createCipheriv('aes-256-gcm', wrapKey, nonce)
    .setAAD(Buffer.from('autologging keyring v1'));
  const body = Buffer.concat([c.update(raw), c.final()]);
  const ring = {
    format: 'autologging-keyring',
    version: 1,
    protector: passphrase ? 'passphrase' : 'key-file',
    kdf: { name: 'scrypt', salt: salt.toString('base64'), ...kdf },
    keys: [
      {
        version: 1,
        createdAt: '2026-01-01T00:00:00.000Z',
        wrapped: Buffer.concat([nonce, body, c.getAuthTag()]).toString('base64'),
      },
    ],
  };
  fs.writeFileSync(path.join(home, 'keyring.json'), JSON.stringify(ring), { mode: 0o600 });
  return raw;
}

describe('keyring format 2', () => {
  it('reads a format 1 keyring behind a key file and upgrades it in place, keys unchanged', () => {
    const home = tempDir();
    const raw = writeV1Keyring(home, null);
    const keys = openKeyring({ home });
    expect(keys.dataKey.reveal().equals(raw.subarray(0, 32))).toBe(true);
    expect(keys.indexKey.reveal().equals(raw.subarray(32, 64))).toBe(true);
    const ring = JSON.parse(fs.readFileSync(path.join(home, 'keyring.json'), 'utf8'));
    expect(ring.version).toBe(2);
    expect(keyringProtectors(home)).toEqual(['key-file']);
    expect(openKeyring({ home }).dataKey.reveal().equals(raw.subarray(0, 32))).toBe(true);
  });

  it('reads a format 1 keyring behind a passphrase and keeps needing that passphrase', () => {
    const home = tempDir();
    const raw = writeV1Keyring(home, 'correct horse');
    expect(() => openKeyring({ home })).toThrow(expect.objectContaining({ code: 'EPASSPHRASE' }));
    expect(openKeyring({ home, passphrase: 'correct horse' }).indexKey.reveal()).toEqual(
      raw.subarray(32, 64),
    );
    expect(keyringProtectors(home)).toEqual(['passphrase']);
    expect(() => openKeyring({ home, passphrase: 'wrong horse' })).toThrow(
      expect.objectContaining({ code: 'EKEYUNWRAP' }),
    );
  });

  it('rotates to a new data key version while older ciphertexts stay readable and blind indexes stay equal', () => {
    const home = tempDir();
    const before = new FieldCipher(openKeyring({ home }));
    const old = before.encrypt('r1', 'user', 'minjun.kim');

    const keyring = Keyring.open({ home });
    expect(keyring.rotate()).toBe(2);
    const after = new FieldCipher(keyring.keys());
    const fresh = after.encrypt('r2', 'user', 'seoyeon.lee');
    expect(FieldCipher.versionOf(old)).toBe(1);
    expect(FieldCipher.versionOf(fresh)).toBe(2);
    expect(after.keyVersion).toBe(2);
    expect(after.keyVersions).toEqual([1, 2]);
    expect(after.decrypt('r1', 'user', old)).toBe('minjun.kim');
    expect(after.decrypt('r2', 'user', fresh)).toBe('seoyeon.lee');
    expect(after.blindIndex('user', 'minjun.kim')).toBe(before.blindIndex('user', 'minjun.kim'));
    expect(() => before.decrypt('r2', 'user', fresh)).toThrow(
      expect.objectContaining({ code: 'EKEYVERSION' }),
    );
  });

  it('lets either the passphrase or the key file open a keyring that has both', () => {
    const home = tempDir();
    const keyring = Keyring.open({ home });
    keyring.addPassphrase('correct horse');
    const blob = new FieldCipher(keyring.keys()).encrypt('r', 'user', 'alice');
    expect(keyringProtectors(home)).toEqual(['key-file', 'passphrase']);
    fs.rmSync(path.join(home, 'keyring.secret'));
    expect(
      new FieldCipher(openKeyring({ home, passphrase: 'correct horse' })).decrypt(
        'r',
        'user',
        blob,
      ),
    ).toBe('alice');
    expect(() => openKeyring({ home })).toThrow(expect.objectContaining({ code: 'EPASSPHRASE' }));
  });

  it('refuses to remove the last protector', () => {
    const keyring = Keyring.open({ home: tempDir() });
    expect(() => keyring.removeProtector('key-file')).toThrow(
      expect.objectContaining({ code: 'EPROTECTOR' }),
    );
  });
});

describe('DPAPI', () => {
  it('is not offered on systems other than Windows', () => {
    const run: CommandRunner = async () => {
      throw new Error('must not run');
    };
    expect(windowsDpapi(run, 'linux')).toBeNull();
    expect(windowsDpapi(run, 'darwin')).toBeNull();
  });

  it('protects a new keyring on Windows in machine scope through PowerShell, with no key file', async () => {
    const home = tempDir();
    const windows = fakeWindows();
    const keyring = await Keyring.unlock({ home, dpapi: windows.dpapi });
    const blob = new FieldCipher(keyring.keys()).encrypt('r', 'user', 'alice');
    expect(keyringProtectors(home)).toEqual(['dpapi']);
    expect(fs.existsSync(path.join(home, 'keyring.secret'))).toBe(false);
    expect(windows.calls[0]!.slice(0, 4)).toEqual([
      'powershell.exe',
      '-NoProfile',
      '-NonInteractive',
      '-Command',
    ]);
    // No key material on any command line: it went through standard input.
    for (const call of windows.calls) expect(call.join(' ')).not.toMatch(/[A-Za-z0-9+/]{40}/);

    const again = await Keyring.unlock({ home, dpapi: windows.dpapi });
    expect(new FieldCipher(again.keys()).decrypt('r', 'user', blob)).toBe('alice');
    expect(() => openKeyring({ home })).toThrow(expect.objectContaining({ code: 'EDPAPI' }));
  });

  it('moves a keyring behind a key file to DPAPI and removes the key file', async () => {
    const home = tempDir();
    const blob = new FieldCipher(openKeyring({ home })).encrypt('r', 'user', 'alice');
    const windows = fakeWindows();
    const keyring = await Keyring.unlock({ home, dpapi: windows.dpapi });
    expect(keyringProtectors(home)).toEqual(['dpapi']);
    expect(fs.existsSync(path.join(home, 'keyring.secret'))).toBe(false);
    expect(new FieldCipher(keyring.keys()).decrypt('r', 'user', blob)).toBe('alice');
  });

  it('fails with EDPAPI on another machine, where the passphrase still opens the keys', async () => {
    const home = tempDir();
    await Keyring.unlock({ home, dpapi: fakeWindows().dpapi, passphrase: 'correct horse' });
    const other = fakeWindows();
    await expect(Keyring.unlock({ home, dpapi: other.dpapi })).rejects.toMatchObject({
      code: 'EDPAPI',
    });
    const keyring = await Keyring.unlock({
      home,
      dpapi: other.dpapi,
      passphrase: 'correct horse',
    });
    expect(keyring.status().protectors).toContain('passphrase');
  });

  it('never puts what PowerShell printed on failure into the error', async () => {
    const run: CommandRunner = async () => ({
      stdout: '',
      stderr: "At line:1 char:1 [Convert]::FromBase64String('c2VjcmV0')",
      exitCode: 1,
    });
    const dpapi = windowsDpapi(run, 'win32')!;
    const failure = await dpapi.protect(Buffer.from('secret')).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'EDPAPI' });
    expect(String((failure as Error).message)).not.toContain('c2VjcmV0');
  });
});

describe('recovery export', () => {
  it('is recorded in the keyring, and imported on a fresh home opens what the old keys wrote', async () => {
    const home = tempDir();
    const keyring = Keyring.open({ home });
    keyring.rotate();
    const cipher = new FieldCipher(keyring.keys());
    const blob = cipher.encrypt('r', 'clientAddress', '10.20.1.2');
    expect(recoveryExportedAt(home)).toBeNull();

    const out = path.join(tempDir(), 'recovery.json');
    keyring.exportRecovery(out, 'recovery horse staple');
    expect(recoveryExportedAt(home)).not.toBeNull();
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(out, 'utf8')).not.toMatch(/dataKey|indexKey/);

    const fresh = tempDir();
    const imported = await Keyring.importRecovery(
      { home: fresh, passphrase: 'new start' },
      fs.readFileSync(out, 'utf8'),
      'recovery horse staple',
    );
    const restored = new FieldCipher(imported.keys());
    expect(restored.decrypt('r', 'clientAddress', blob)).toBe('10.20.1.2');
    expect(restored.keyVersion).toBe(2);
    expect(restored.blindIndex('user', 'x')).toBe(cipher.blindIndex('user', 'x'));
    expect(keyringProtectors(fresh)).toEqual(['passphrase']);
  });

  it('refuses a wrong recovery passphrase and a home that has keys already', async () => {
    const home = tempDir();
    const keyring = Keyring.open({ home });
    const out = path.join(tempDir(), 'recovery.json');
    keyring.exportRecovery(out, 'recovery horse staple');
    const content = fs.readFileSync(out, 'utf8');
    await expect(
      Keyring.importRecovery({ home: tempDir() }, content, 'wrong horse staple'),
    ).rejects.toMatchObject({ code: 'ERECOVERY' });
    await expect(
      Keyring.importRecovery({ home }, content, 'recovery horse staple'),
    ).rejects.toMatchObject({ code: 'EKEYRINGEXISTS' });
    const keys = openKeyring({ home });
    wipeKeys(keys);
    expect(() => keys.dataKey.reveal()).toThrow();
  });
});
