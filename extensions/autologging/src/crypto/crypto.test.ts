import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../../tests/support/temp.ts';
import { FieldCipher } from './field-cipher.ts';
import { keyringProtector, openKeyring } from './keyring.ts';

describe('keyring', () => {
  it('creates keys on first use behind an owner-only key file and opens the same keys again', () => {
    const home = tempDir();
    const first = new FieldCipher(openKeyring({ home }));
    const blob = first.encrypt('rec1', 'user', 'minjun.kim');

    expect(keyringProtector(home)).toBe('key-file');
    expect(fs.statSync(path.join(home, 'keyring.secret')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(home, 'keyring.json')).mode & 0o777).toBe(0o600);
    const again = new FieldCipher(openKeyring({ home }));
    expect(again.decrypt('rec1', 'user', blob)).toBe('minjun.kim');
  });

  it('keeps no key in plain text in the keyring file', () => {
    const home = tempDir();
    openKeyring({ home, passphrase: 'correct horse' });
    const text = fs.readFileSync(path.join(home, 'keyring.json'), 'utf8');
    expect(text).not.toMatch(/dataKey|indexKey/);
    expect(JSON.parse(text).protectors.map((p: { type: string }) => p.type)).toEqual([
      'passphrase',
    ]);
    expect(fs.existsSync(path.join(home, 'keyring.secret'))).toBe(false);
  });

  it('refuses a wrong passphrase with EKEYUNWRAP and a missing one with EPASSPHRASE', () => {
    const home = tempDir();
    openKeyring({ home, passphrase: 'correct horse' });
    expect(() => openKeyring({ home, passphrase: 'wrong horse' })).toThrow(
      expect.objectContaining({ code: 'EKEYUNWRAP' }),
    );
    expect(() => openKeyring({ home })).toThrow(expect.objectContaining({ code: 'EPASSPHRASE' }));
  });

  it('says EKEYRING when the keyring file is damaged', () => {
    const home = tempDir();
    openKeyring({ home });
    fs.writeFileSync(path.join(home, 'keyring.json'), '{"format": "something else"');
    expect(() => openKeyring({ home })).toThrow(expect.objectContaining({ code: 'EKEYRING' }));
  });
});

describe('field cipher', () => {
  const cipher = () => new FieldCipher(openKeyring({ home: tempDir() }));

  it('round-trips Korean and empty-looking values and uses a fresh nonce every time', () => {
    const c = cipher();
    const a = c.encrypt('r', 'fullName', '김민준');
    const b = c.encrypt('r', 'fullName', '김민준');
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(c.decrypt('r', 'fullName', a)).toBe('김민준');
    expect(c.decrypt('r', 'fullName', c.encrypt('r', 'fullName', ' '))).toBe(' ');
  });

  it('fails with ECIPHERTEXT when a bit is flipped, or the value is moved to another record or field', () => {
    const c = cipher();
    const blob = Buffer.from(c.encrypt('r1', 'clientAddress', '10.20.1.2'));
    const flipped = Buffer.from(blob);
    flipped[flipped.length - 20]! ^= 1;
    expect(() => c.decrypt('r1', 'clientAddress', flipped)).toThrow(
      expect.objectContaining({ code: 'ECIPHERTEXT' }),
    );
    expect(() => c.decrypt('r2', 'clientAddress', blob)).toThrow(
      expect.objectContaining({ code: 'ECIPHERTEXT' }),
    );
    expect(() => c.decrypt('r1', 'clientName', blob)).toThrow(
      expect.objectContaining({ code: 'ECIPHERTEXT' }),
    );
  });

  it('cannot decrypt with another keyring', () => {
    const blob = cipher().encrypt('r', 'user', 'alice');
    expect(() => cipher().decrypt('r', 'user', blob)).toThrow(
      expect.objectContaining({ code: 'ECIPHERTEXT' }),
    );
  });

  it('gives equal blind indexes for the same account in any case, and different ones per field and key', () => {
    const c = cipher();
    expect(c.blindIndex('user', 'Minjun.Kim')).toBe(c.blindIndex('user', 'minjun.kim'));
    expect(c.blindIndex('user', 'minjun.kim')).not.toBe(c.blindIndex('clientName', 'minjun.kim'));
    expect(c.blindIndex('user', 'minjun.kim')).not.toBe(cipher().blindIndex('user', 'minjun.kim'));
    expect(c.blindIndex('user', 'minjun.kim')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('makes a short stable pseudonym from a blind index', () => {
    const c = cipher();
    const index = c.blindIndex('user', 'minjun.kim');
    expect(c.pseudonym('user', index)).toBe(`U-${index.slice(0, 8).toUpperCase()}`);
    expect(c.pseudonym('clientName', index)).toMatch(/^C-[0-9A-F]{8}$/);
  });
});
