import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CryptoError } from '../errors.ts';
import { writeFileAtomic } from '../platform/files.ts';
import type { Dpapi } from './dpapi.ts';
import { Secret } from './secret.ts';

/** The keys that protect recorded data. */
export interface Keys {
  /** Version of the current data key, written into every new ciphertext. */
  version: number;
  /** AES-256-GCM key for personal fields: the current version. */
  dataKey: Secret;
  /** HMAC-SHA256 key for blind indexes and change fingerprints; never rotated. */
  indexKey: Secret;
  /** Earlier data keys by version, so that what they wrote stays readable. */
  olderDataKeys?: ReadonlyMap<number, Secret>;
}

/** How a keyring's keys can be unlocked. */
export type Protector = 'passphrase' | 'key-file' | 'dpapi';

/** What `Keyring.status` reports; holds no key. */
export interface KeyringStatus {
  file: string;
  /** 1 for a keyring not yet upgraded, else 2. */
  format: number;
  protectors: Protector[];
  current: number;
  versions: Array<{ version: number; createdAt: string }>;
  /** When a recovery export was last written (or imported from), or null. */
  recoveryExportedAt: string | null;
}

interface Kdf {
  name: 'scrypt';
  salt: string;
  N: number;
  r: number;
  p: number;
}

/** Format 1, as AutoLogging 0.1 wrote it: each key version wrapped by one protector. */
interface KeyringFileV1 {
  format: 'autologging-keyring';
  version: 1;
  protector: 'passphrase' | 'key-file';
  kdf: Kdf;
  keys: Array<{ version: number; createdAt: string; wrapped: string }>;
}

type ProtectorEntry =
  | { type: 'passphrase'; kdf: Kdf; wrapped: string }
  | { type: 'key-file'; salt: string; wrapped: string }
  | { type: 'dpapi'; scope: 'LocalMachine'; blob: string };

/**
 * Format 2: a random master key, wrapped once per protector (any one unlocks it), wraps the
 * index key and every data key version.
 */
interface KeyringFileV2 {
  format: 'autologging-keyring';
  version: 2;
  protectors: ProtectorEntry[];
  wrappedIndex: string;
  versions: Array<{ version: number; createdAt: string; wrapped: string }>;
  current: number;
  recoveryExportedAt: string | null;
}

interface RecoveryFile {
  format: 'autologging-recovery';
  version: 1;
  createdAt: string;
  kdf: Kdf;
  sealed: string;
}

interface RecoveryPayload {
  indexKey: string;
  current: number;
  dataKeys: Array<{ version: number; createdAt: string; key: string }>;
}

const KEYRING = 'keyring.json';
const KEY_FILE = 'keyring.secret';
const V1_AAD = Buffer.from('autologging keyring v1');
const SCRYPT = { N: 1 << 15, r: 8, p: 1 };
/** Key versions live in one byte of every ciphertext. */
const MAX_VERSION = 255;

/** Where the keys come from. */
export interface KeyringOptions {
  /** The data folder. */
  home: string;
  /** `AUTOLOGGING_PASSPHRASE`, when set. */
  passphrase?: string | undefined;
}

/** `KeyringOptions` with DPAPI, for `Keyring.unlock`. */
export interface UnlockOptions extends KeyringOptions {
  /** Windows DPAPI (`windowsDpapi`); null or absent elsewhere. */
  dpapi?: Dpapi | null;
  /** The clock, for creation times. */
  now?: () => number;
}

/**
 * Opens the keyring in `home`, creating it on first use, and returns its keys. With a
 * passphrase the keys are wrapped by scrypt of it; without, by a random secret in an
 * owner-only key file beside the keyring. A format 1 keyring is upgraded in place. DPAPI needs
 * `Keyring.unlock`, which is asynchronous.
 *
 * Throws `CryptoError` `EPASSPHRASE` when the keyring needs a passphrase that was not given,
 * `EKEYUNWRAP` when the passphrase or key file does not open it, `EKEYRING` when the file is
 * unreadable, `EDPAPI` when only DPAPI could open it.
 */
export function openKeyring(options: KeyringOptions): Keys {
  return Keyring.open(options).keys();
}

/** Which protectors the keyring in `home` has, or null when there is none yet. */
export function keyringProtectors(home: string): Protector[] | null {
  const file = path.join(home, KEYRING);
  if (!fs.existsSync(file)) return null;
  const ring = readKeyringFile(file);
  return ring.version === 1 ? [ring.protector] : ring.protectors.map((p) => p.type);
}

/** The keyring's first protector (format 1 had only one), or null when there is none yet. */
export function keyringProtector(home: string): Protector | null {
  return keyringProtectors(home)?.[0] ?? null;
}

/**
 * When a recovery export of the keyring in `home` was made, or null when none was (or there
 * is no keyring). Reads the file only; needs no key.
 */
export function recoveryExportedAt(home: string): string | null {
  const file = path.join(home, KEYRING);
  if (!fs.existsSync(file)) return null;
  const ring = readKeyringFile(file);
  return ring.version === 2 ? ring.recoveryExportedAt : null;
}

/**
 * What `Keyring.status` reports of the keyring in `home`, read from the file without
 * unlocking it, or null when there is none yet. Throws `CryptoError` `EKEYRING` when the file
 * is unreadable.
 */
export function readKeyringStatus(home: string): KeyringStatus | null {
  const file = path.join(home, KEYRING);
  if (!fs.existsSync(file)) return null;
  const ring = readKeyringFile(file);
  if (ring.version === 1) {
    const versions = ring.keys.map((k) => ({ version: k.version, createdAt: k.createdAt }));
    return {
      file,
      format: 1,
      protectors: [ring.protector],
      current: Math.max(...versions.map((k) => k.version)),
      versions,
      recoveryExportedAt: null,
    };
  }
  return {
    file,
    format: 2,
    protectors: ring.protectors.map((p) => p.type),
    current: ring.current,
    versions: ring.versions.map((k) => ({ version: k.version, createdAt: k.createdAt })),
    recoveryExportedAt: ring.recoveryExportedAt,
  };
}

/**
 * The unlocked keyring of a data folder: its keys, and the operations that change it
 * (rotation, protectors, recovery export). Holds the master key until `close`.
 */
export class Keyring {
  readonly file: string;
  readonly home: string;
  #ring: KeyringFileV2;
  #master: Secret;
  readonly #now: () => number;

  private constructor(home: string, ring: KeyringFileV2, master: Secret, now: () => number) {
    this.home = home;
    this.file = path.join(home, KEYRING);
    this.#ring = ring;
    this.#master = master;
    this.#now = now;
  }

  /**
   * Opens (creating, or upgrading from format 1) the keyring of `options.home` without DPAPI.
   * Throws like `openKeyring`.
   */
  static open(options: KeyringOptions & { now?: () => number }): Keyring {
    const now = options.now ?? Date.now;
    const file = path.join(options.home, KEYRING);
    if (!fs.existsSync(file)) {
      return Keyring.#create(options.home, randomKeySet(now), now, (master) => [
        options.passphrase
          ? passphraseEntry(master, options.passphrase)
          : keyFileEntry(options.home, master),
      ]);
    }
    const ring = readKeyringFile(file);
    if (ring.version === 1) return Keyring.#upgrade(options, ring, now);
    const master = unlockSync(options, ring);
    return new Keyring(options.home, ring, master, now);
  }

  /**
   * Like `open`, and with DPAPI where offered: a new keyring is protected by DPAPI (and the
   * passphrase, when given) instead of a key file, and a keyring still behind a key file is
   * moved behind DPAPI, its key file removed. Throws like `openKeyring`, and `EDPAPI`.
   */
  static async unlock(options: UnlockOptions): Promise<Keyring> {
    const dpapi = options.dpapi ?? null;
    const now = options.now ?? Date.now;
    const file = path.join(options.home, KEYRING);
    if (!dpapi) return Keyring.open(options);

    if (!fs.existsSync(file)) {
      const master = randomSecret();
      const entries: ProtectorEntry[] = [await dpapiEntry(dpapi, master)];
      if (options.passphrase) entries.push(passphraseEntry(master, options.passphrase));
      return Keyring.#create(options.home, randomKeySet(now), now, () => entries, master);
    }
    let ring = readKeyringFile(file);
    let keyring: Keyring;
    if (ring.version === 1) {
      keyring = Keyring.#upgrade(options, ring, now);
    } else {
      const entry = ring.protectors.find((p) => p.type === 'dpapi');
      let master: Secret | null = null;
      if (entry && !(options.passphrase && ring.protectors.some((p) => p.type === 'passphrase'))) {
        master = await unprotectDpapi(dpapi, entry, file);
      }
      keyring = new Keyring(options.home, ring, master ?? unlockSync(options, ring), now);
    }
    ring = keyring.#ring;
    if (!ring.protectors.some((p) => p.type === 'dpapi')) {
      await keyring.addDpapi(dpapi);
      keyring.removeProtector('key-file');
    }
    return keyring;
  }

  /**
   * Writes a new keyring into `home` from a recovery export, protected like a new one (DPAPI
   * where offered, the passphrase when given, else a key file). Throws `CryptoError`
   * `EKEYRINGEXISTS` when `home` has a keyring already, `ERECOVERY` when the file is not a
   * recovery export or the recovery passphrase does not open it.
   */
  static async importRecovery(
    options: UnlockOptions,
    content: string,
    recoveryPassphrase: string,
  ): Promise<Keyring> {
    const now = options.now ?? Date.now;
    if (fs.existsSync(path.join(options.home, KEYRING))) {
      throw new CryptoError(
        'EKEYRINGEXISTS',
        `${path.join(options.home, KEYRING)} exists: a recovery export is imported into a data ` +
          'folder without keys; move the old keyring away first',
      );
    }
    const payload = openRecovery(content, recoveryPassphrase);
    const master = randomSecret();
    const entries: ProtectorEntry[] = [];
    if (options.dpapi) entries.push(await dpapiEntry(options.dpapi, master));
    if (options.passphrase) entries.push(passphraseEntry(master, options.passphrase));
    if (!entries.length) entries.push(keyFileEntry(options.home, master));
    const keys = {
      indexKey: Buffer.from(payload.indexKey, 'base64'),
      current: payload.current,
      dataKeys: payload.dataKeys.map((k) => ({ ...k, key: Buffer.from(k.key, 'base64') })),
    };
    const keyring = Keyring.#create(options.home, keys, now, () => entries, master);
    keyring.#ring.recoveryExportedAt = new Date(now()).toISOString();
    keyring.#save();
    return keyring;
  }

  static #create(
    home: string,
    keys: KeySet,
    now: () => number,
    protect: (master: Secret) => ProtectorEntry[],
    master: Secret = randomSecret(),
  ): Keyring {
    const ring: KeyringFileV2 = {
      format: 'autologging-keyring',
      version: 2,
      protectors: protect(master),
      wrappedIndex: seal(master.reveal(), 'index', keys.indexKey),
      versions: keys.dataKeys.map((k) => ({
        version: k.version,
        createdAt: k.createdAt,
        wrapped: seal(master.reveal(), `data ${k.version}`, k.key),
      })),
      current: keys.current,
      recoveryExportedAt: null,
    };
    keys.indexKey.fill(0);
    for (const k of keys.dataKeys) k.key.fill(0);
    const keyring = new Keyring(home, ring, master, now);
    keyring.#save();
    return keyring;
  }

  /** Opens a format 1 keyring with its one protector and rewrites it as format 2. */
  static #upgrade(options: KeyringOptions, old: KeyringFileV1, now: () => number): Keyring {
    const file = path.join(options.home, KEYRING);
    const secret = v1Secret(old.protector, options);
    const wrapKey = scrypt(secret, old.kdf);
    secret.fill(0);
    const dataKeys: KeySet['dataKeys'] = [];
    let indexKey: Buffer | null = null;
    try {
      for (const entry of [...old.keys].sort((a, b) => a.version - b.version)) {
        const raw = unwrapV1(wrapKey, Buffer.from(entry.wrapped, 'base64'));
        dataKeys.push({
          version: entry.version,
          createdAt: entry.createdAt,
          key: Buffer.from(raw.subarray(0, 32)),
        });
        // Format 1 kept an index key beside each data key; only one was ever written, and
        // the blind indexes in the journal are those of the first.
        indexKey ??= Buffer.from(raw.subarray(32, 64));
        raw.fill(0);
      }
    } catch {
      throw unwrapError(old.protector, options.home, file);
    } finally {
      wrapKey.fill(0);
    }
    const current = Math.max(...dataKeys.map((k) => k.version));
    return Keyring.#create(options.home, { indexKey: indexKey!, current, dataKeys }, now, (m) =>
      old.protector === 'passphrase'
        ? [passphraseEntry(m, options.passphrase!)]
        : [keyFileEntry(options.home, m, v1KeyFileSecret(options.home))],
    );
  }

  /** The keys, every data key version included. The caller wipes them when done. */
  keys(): Keys {
    const master = this.#master.reveal();
    const older = new Map<number, Secret>();
    let current: Secret | null = null;
    for (const k of this.#ring.versions) {
      const key = new Secret(open(master, `data ${k.version}`, k.wrapped, this.file));
      if (k.version === this.#ring.current) current = key;
      else older.set(k.version, key);
    }
    if (!current) {
      throw new CryptoError('EKEYRING', `${this.file} has no data key ${this.#ring.current}`);
    }
    return {
      version: this.#ring.current,
      dataKey: current,
      indexKey: new Secret(open(master, 'index', this.#ring.wrappedIndex, this.file)),
      olderDataKeys: older,
    };
  }

  /** The protectors, key versions and recovery state; no key. */
  status(): KeyringStatus {
    return {
      file: this.file,
      format: 2,
      protectors: this.#ring.protectors.map((p) => p.type),
      current: this.#ring.current,
      versions: this.#ring.versions.map((k) => ({ version: k.version, createdAt: k.createdAt })),
      recoveryExportedAt: this.#ring.recoveryExportedAt,
    };
  }

  /**
   * Adds a new data key version and makes it the one new records are written with; earlier
   * versions stay, so what they wrote stays readable. The index key does not change: blind
   * indexes and pseudonyms must stay what they were. Returns the new version. Throws
   * `CryptoError` `EKEYVERSION` past version 255 (ciphertexts hold the version in one byte).
   */
  rotate(): number {
    const version = Math.max(...this.#ring.versions.map((k) => k.version)) + 1;
    if (version > MAX_VERSION) {
      throw new CryptoError('EKEYVERSION', `a keyring holds at most ${MAX_VERSION} key versions`);
    }
    const key = crypto.randomBytes(32);
    this.#ring.versions.push({
      version,
      createdAt: new Date(this.#now()).toISOString(),
      wrapped: seal(this.#master.reveal(), `data ${version}`, key),
    });
    key.fill(0);
    this.#ring.current = version;
    this.#save();
    return version;
  }

  /** Adds (or replaces) the passphrase protector. */
  addPassphrase(passphrase: string): void {
    this.#replace(passphraseEntry(this.#master, passphrase));
  }

  /** Adds (or replaces) the DPAPI protector. Throws `CryptoError` `EDPAPI`. */
  async addDpapi(dpapi: Dpapi): Promise<void> {
    this.#replace(await dpapiEntry(dpapi, this.#master));
  }

  /**
   * Removes a protector (and, for `key-file`, its file). Throws `CryptoError` `EPROTECTOR`
   * when it is the last one: the keys would be lost.
   */
  removeProtector(type: Protector): void {
    const rest = this.#ring.protectors.filter((p) => p.type !== type);
    if (rest.length === this.#ring.protectors.length) return;
    if (!rest.length) {
      throw new CryptoError('EPROTECTOR', `the ${type} protector is the keyring's last one`);
    }
    this.#ring.protectors = rest;
    this.#save();
    if (type === 'key-file') fs.rmSync(path.join(this.home, KEY_FILE), { force: true });
  }

  /**
   * Writes a recovery export of every key to `out` (owner-only), sealed by scrypt of
   * `recoveryPassphrase`, and records in the keyring that one was made.
   */
  exportRecovery(out: string, recoveryPassphrase: string): void {
    if (recoveryPassphrase.length < 8) {
      throw new CryptoError('ERECOVERY', 'the recovery passphrase needs at least 8 characters');
    }
    const keys = this.keys();
    const payload: RecoveryPayload = {
      indexKey: keys.indexKey.reveal().toString('base64'),
      current: keys.version,
      dataKeys: this.#ring.versions.map((k) => ({
        version: k.version,
        createdAt: k.createdAt,
        key: (k.version === keys.version ? keys.dataKey : keys.olderDataKeys!.get(k.version)!)
          .reveal()
          .toString('base64'),
      })),
    };
    const plain = Buffer.from(JSON.stringify(payload), 'utf8');
    wipeKeys(keys);
    const kdf = newKdf();
    const wrapKey = scrypt(passphraseBytes(recoveryPassphrase), kdf);
    const file: RecoveryFile = {
      format: 'autologging-recovery',
      version: 1,
      createdAt: new Date(this.#now()).toISOString(),
      kdf,
      sealed: gcmSeal(wrapKey, 'autologging recovery v1', plain),
    };
    wrapKey.fill(0);
    plain.fill(0);
    writeFileAtomic(out, JSON.stringify(file, null, 2) + '\n');
    this.#ring.recoveryExportedAt = file.createdAt;
    this.#save();
  }

  /** Wipes the master key. */
  close(): void {
    this.#master.wipe();
  }

  #replace(entry: ProtectorEntry): void {
    this.#ring.protectors = [...this.#ring.protectors.filter((p) => p.type !== entry.type), entry];
    this.#save();
  }

  #save(): void {
    writeFileAtomic(this.file, JSON.stringify(this.#ring, null, 2) + '\n');
  }
}

/** Wipes every key of `keys`. */
export function wipeKeys(keys: Keys): void {
  keys.dataKey.wipe();
  keys.indexKey.wipe();
  for (const key of keys.olderDataKeys?.values() ?? []) key.wipe();
}

interface KeySet {
  indexKey: Buffer;
  current: number;
  dataKeys: Array<{ version: number; createdAt: string; key: Buffer }>;
}

function randomKeySet(now: () => number): KeySet {
  return {
    indexKey: crypto.randomBytes(32),
    current: 1,
    dataKeys: [
      { version: 1, createdAt: new Date(now()).toISOString(), key: crypto.randomBytes(32) },
    ],
  };
}

function randomSecret(): Secret {
  return new Secret(crypto.randomBytes(32));
}

function readKeyringFile(file: string): KeyringFileV1 | KeyringFileV2 {
  let ring: KeyringFileV1 | KeyringFileV2;
  try {
    ring = JSON.parse(fs.readFileSync(file, 'utf8')) as KeyringFileV1 | KeyringFileV2;
  } catch (error) {
    throw new CryptoError('EKEYRING', `the keyring ${file} cannot be read`, { cause: error });
  }
  const valid =
    ring?.format === 'autologging-keyring' &&
    ((ring.version === 1 && Array.isArray(ring.keys) && ring.keys.length > 0) ||
      (ring.version === 2 &&
        Array.isArray(ring.protectors) &&
        ring.protectors.length > 0 &&
        Array.isArray(ring.versions) &&
        ring.versions.length > 0));
  if (!valid)
    throw new CryptoError('EKEYRING', `the keyring ${file} is not an AutoLogging keyring`);
  return ring;
}

/** The master key through the passphrase or the key file; DPAPI needs `Keyring.unlock`. */
function unlockSync(options: KeyringOptions, ring: KeyringFileV2): Secret {
  const file = path.join(options.home, KEYRING);
  const byPassphrase = ring.protectors.find((p) => p.type === 'passphrase');
  const byKeyFile = ring.protectors.find((p) => p.type === 'key-file');
  if (byPassphrase && options.passphrase) {
    const wrapKey = scrypt(passphraseBytes(options.passphrase), byPassphrase.kdf);
    return unwrapMaster(wrapKey, byPassphrase.wrapped, 'passphrase', options.home, file);
  }
  if (byKeyFile && (!byPassphrase || fs.existsSync(path.join(options.home, KEY_FILE)))) {
    const secret = readKeyFile(options.home);
    const wrapKey = keyFileWrapKey(secret, Buffer.from(byKeyFile.salt, 'base64'));
    secret.fill(0);
    return unwrapMaster(wrapKey, byKeyFile.wrapped, 'key-file', options.home, file);
  }
  if (byPassphrase) {
    throw new CryptoError(
      'EPASSPHRASE',
      ring.protectors.some((p) => p.type === 'dpapi')
        ? 'the keys are protected by DPAPI on another machine and a passphrase: set ' +
            'AUTOLOGGING_PASSPHRASE to open them'
        : 'the keys are protected by a passphrase: set AUTOLOGGING_PASSPHRASE to open them',
    );
  }
  throw new CryptoError(
    'EDPAPI',
    `the keys in ${file} are protected by Windows DPAPI only: they open on the Windows machine ` +
      'that wrote them, or with a recovery export',
  );
}

function unwrapMaster(
  wrapKey: Buffer,
  wrapped: string,
  protector: Protector,
  home: string,
  file: string,
): Secret {
  try {
    return new Secret(gcmOpen(wrapKey, 'autologging master', Buffer.from(wrapped, 'base64')));
  } catch {
    throw unwrapError(protector, home, file);
  } finally {
    wrapKey.fill(0);
  }
}

function unwrapError(protector: Protector, home: string, file: string): CryptoError {
  return new CryptoError(
    'EKEYUNWRAP',
    protector === 'passphrase'
      ? `AUTOLOGGING_PASSPHRASE does not open the keys in ${file}`
      : `the key file ${path.join(home, KEY_FILE)} does not open the keys in ${file}`,
  );
}

async function unprotectDpapi(
  dpapi: Dpapi,
  entry: Extract<ProtectorEntry, { type: 'dpapi' }>,
  file: string,
): Promise<Secret> {
  const plain = await dpapi.unprotect(Buffer.from(entry.blob, 'base64'));
  if (plain.length !== 32) {
    plain.fill(0);
    throw new CryptoError('EKEYUNWRAP', `Windows DPAPI does not open the keys in ${file}`);
  }
  return new Secret(plain);
}

function passphraseEntry(master: Secret, passphrase: string): ProtectorEntry {
  const kdf = newKdf();
  const wrapKey = scrypt(passphraseBytes(passphrase), kdf);
  const wrapped = gcmSeal(wrapKey, 'autologging master', master.reveal());
  wrapKey.fill(0);
  return { type: 'passphrase', kdf, wrapped };
}

function keyFileEntry(home: string, master: Secret, existing?: Buffer): ProtectorEntry {
  const secret = existing ?? crypto.randomBytes(32);
  if (!existing) writeFileAtomic(path.join(home, KEY_FILE), secret.toString('base64'));
  const salt = crypto.randomBytes(16);
  const wrapKey = keyFileWrapKey(secret, salt);
  secret.fill(0);
  const wrapped = gcmSeal(wrapKey, 'autologging master', master.reveal());
  wrapKey.fill(0);
  return { type: 'key-file', salt: salt.toString('base64'), wrapped };
}

async function dpapiEntry(dpapi: Dpapi, master: Secret): Promise<ProtectorEntry> {
  const blob = await dpapi.protect(master.reveal());
  return { type: 'dpapi', scope: 'LocalMachine', blob: blob.toString('base64') };
}

/** The key file holds 32 random bytes: a key derivation, not a password hash, is enough. */
function keyFileWrapKey(secret: Buffer, salt: Buffer): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', secret, salt, 'autologging key file', 32));
}

function readKeyFile(home: string): Buffer {
  const file = path.join(home, KEY_FILE);
  try {
    return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  } catch (error) {
    throw new CryptoError('EKEYFILE', `the key file ${file} cannot be read`, { cause: error });
  }
}

function v1KeyFileSecret(home: string): Buffer {
  return readKeyFile(home);
}

function v1Secret(protector: KeyringFileV1['protector'], options: KeyringOptions): Buffer {
  if (protector === 'key-file') return readKeyFile(options.home);
  if (!options.passphrase) {
    throw new CryptoError(
      'EPASSPHRASE',
      'the keys are protected by a passphrase: set AUTOLOGGING_PASSPHRASE to open them',
    );
  }
  return passphraseBytes(options.passphrase);
}

function passphraseBytes(passphrase: string): Buffer {
  return Buffer.from(passphrase.normalize('NFC'), 'utf8');
}

function newKdf(): Kdf {
  return { name: 'scrypt', salt: crypto.randomBytes(16).toString('base64'), ...SCRYPT };
}

function scrypt(secret: Buffer, kdf: Kdf): Buffer {
  return crypto.scryptSync(secret, Buffer.from(kdf.salt, 'base64'), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * kdf.N * kdf.r,
  });
}

function seal(master: Buffer, label: string, plain: Buffer): string {
  return gcmSeal(master, `autologging key ${label}`, plain);
}

function open(master: Buffer, label: string, wrapped: string, file: string): Buffer {
  try {
    return gcmOpen(master, `autologging key ${label}`, Buffer.from(wrapped, 'base64'));
  } catch (error) {
    throw new CryptoError('EKEYRING', `the ${label} key in ${file} is damaged`, { cause: error });
  }
}

function gcmSeal(key: Buffer, aad: string, plain: Buffer): string {
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce).setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
}

function gcmOpen(key: Buffer, aad: string | Buffer, blob: Buffer): Buffer {
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, blob.subarray(0, 12));
  decipher.setAAD(Buffer.isBuffer(aad) ? aad : Buffer.from(aad));
  decipher.setAuthTag(blob.subarray(blob.length - 16));
  return Buffer.concat([decipher.update(blob.subarray(12, blob.length - 16)), decipher.final()]);
}

function unwrapV1(key: Buffer, blob: Buffer): Buffer {
  return gcmOpen(key, V1_AAD, blob);
}

function openRecovery(content: string, passphrase: string): RecoveryPayload {
  let file: RecoveryFile;
  try {
    file = JSON.parse(content) as RecoveryFile;
  } catch (error) {
    throw new CryptoError('ERECOVERY', 'the file is not a recovery export', { cause: error });
  }
  if (file?.format !== 'autologging-recovery' || file.version !== 1) {
    throw new CryptoError('ERECOVERY', 'the file is not an AutoLogging recovery export');
  }
  const wrapKey = scrypt(passphraseBytes(passphrase), file.kdf);
  let plain: Buffer;
  try {
    plain = gcmOpen(wrapKey, 'autologging recovery v1', Buffer.from(file.sealed, 'base64'));
  } catch {
    throw new CryptoError(
      'ERECOVERY',
      'the recovery passphrase does not open this recovery export, or the file was altered',
    );
  } finally {
    wrapKey.fill(0);
  }
  const payload = JSON.parse(plain.toString('utf8')) as RecoveryPayload;
  plain.fill(0);
  return payload;
}
