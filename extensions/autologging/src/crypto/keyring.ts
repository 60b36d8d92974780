import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CryptoError } from '../errors.ts';
import { writeFileAtomic } from '../platform/files.ts';
import { Secret } from './secret.ts';

/** The keys that protect recorded data. */
export interface Keys {
  /** Version of the data key, written into every ciphertext. */
  version: number;
  /** AES-256-GCM key for personal fields. */
  dataKey: Secret;
  /** HMAC-SHA256 key for blind indexes and change fingerprints. */
  indexKey: Secret;
}

/** How the keyring file's keys are wrapped. */
export type Protector = 'passphrase' | 'key-file';

interface KeyringFile {
  format: 'autologging-keyring';
  version: 1;
  protector: Protector;
  kdf: { name: 'scrypt'; salt: string; N: number; r: number; p: number };
  keys: Array<{ version: number; createdAt: string; wrapped: string }>;
}

const KEYRING = 'keyring.json';
const KEY_FILE = 'keyring.secret';
const WRAP_AAD = Buffer.from('autologging keyring v1');
const SCRYPT = { N: 1 << 15, r: 8, p: 1 };

/** Where the keys come from. */
export interface KeyringOptions {
  /** The data folder. */
  home: string;
  /** `AUTOLOGGING_PASSPHRASE`, when set. */
  passphrase?: string | undefined;
}

/**
 * Opens the keyring in `home`, creating it on first use. With a passphrase the keys are
 * wrapped by scrypt of it; without, by a random secret in an owner-only key file beside
 * the keyring (the key-management issue adds DPAPI and recovery on top of this).
 *
 * Throws `CryptoError` `EPASSPHRASE` when the keyring needs a passphrase that was not given,
 * `EKEYUNWRAP` when the passphrase or key file does not open it, `EKEYRING` when the file is
 * unreadable.
 */
export function openKeyring(options: KeyringOptions): Keys {
  const file = path.join(options.home, KEYRING);
  if (!fs.existsSync(file)) return createKeyring(options);

  const ring = readKeyring(file);
  const secret = wrappingSecret(ring.protector, options);
  const wrapKey = crypto.scryptSync(secret, Buffer.from(ring.kdf.salt, 'base64'), 32, {
    N: ring.kdf.N,
    r: ring.kdf.r,
    p: ring.kdf.p,
    maxmem: 256 * ring.kdf.N * ring.kdf.r,
  });
  const newest = ring.keys.reduce((a, b) => (b.version > a.version ? b : a));
  try {
    const raw = unwrap(wrapKey, Buffer.from(newest.wrapped, 'base64'));
    return split(newest.version, raw);
  } catch {
    throw new CryptoError(
      'EKEYUNWRAP',
      ring.protector === 'passphrase'
        ? `AUTOLOGGING_PASSPHRASE does not open the keys in ${file}`
        : `the key file ${path.join(options.home, KEY_FILE)} does not open the keys in ${file}`,
    );
  } finally {
    wrapKey.fill(0);
  }
}

/** Which protector the keyring in `home` uses, or null when there is none yet. */
export function keyringProtector(home: string): Protector | null {
  const file = path.join(home, KEYRING);
  return fs.existsSync(file) ? readKeyring(file).protector : null;
}

function createKeyring(options: KeyringOptions): Keys {
  const protector: Protector = options.passphrase ? 'passphrase' : 'key-file';
  if (protector === 'key-file') {
    writeFileAtomic(path.join(options.home, KEY_FILE), crypto.randomBytes(32).toString('base64'));
  }
  const secret = wrappingSecret(protector, options);
  const salt = crypto.randomBytes(16);
  const wrapKey = crypto.scryptSync(secret, salt, 32, { ...SCRYPT, maxmem: 64 << 20 });
  const raw = crypto.randomBytes(64);
  const ring: KeyringFile = {
    format: 'autologging-keyring',
    version: 1,
    protector,
    kdf: { name: 'scrypt', salt: salt.toString('base64'), ...SCRYPT },
    keys: [{ version: 1, createdAt: new Date().toISOString(), wrapped: wrap(wrapKey, raw) }],
  };
  wrapKey.fill(0);
  writeFileAtomic(path.join(options.home, KEYRING), JSON.stringify(ring, null, 2) + '\n');
  return split(1, raw);
}

function readKeyring(file: string): KeyringFile {
  let ring: KeyringFile;
  try {
    ring = JSON.parse(fs.readFileSync(file, 'utf8')) as KeyringFile;
  } catch (error) {
    throw new CryptoError('EKEYRING', `the keyring ${file} cannot be read`, { cause: error });
  }
  if (ring?.format !== 'autologging-keyring' || !Array.isArray(ring.keys) || !ring.keys.length) {
    throw new CryptoError('EKEYRING', `the keyring ${file} is not an AutoLogging keyring`);
  }
  return ring;
}

function wrappingSecret(protector: Protector, options: KeyringOptions): Buffer {
  if (protector === 'passphrase') {
    if (!options.passphrase) {
      throw new CryptoError(
        'EPASSPHRASE',
        'the keys are protected by a passphrase: set AUTOLOGGING_PASSPHRASE to open them',
      );
    }
    return Buffer.from(options.passphrase.normalize('NFC'), 'utf8');
  }
  const file = path.join(options.home, KEY_FILE);
  try {
    return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  } catch (error) {
    throw new CryptoError('EKEYFILE', `the key file ${file} cannot be read`, { cause: error });
  }
}

function wrap(key: Buffer, plain: Buffer): string {
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce).setAAD(WRAP_AAD);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
}

function unwrap(key: Buffer, blob: Buffer): Buffer {
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, blob.subarray(0, 12));
  decipher.setAAD(WRAP_AAD).setAuthTag(blob.subarray(blob.length - 16));
  return Buffer.concat([decipher.update(blob.subarray(12, blob.length - 16)), decipher.final()]);
}

function split(version: number, raw: Buffer): Keys {
  const keys = {
    version,
    dataKey: new Secret(Buffer.from(raw.subarray(0, 32))),
    indexKey: new Secret(Buffer.from(raw.subarray(32, 64))),
  };
  raw.fill(0);
  return keys;
}
