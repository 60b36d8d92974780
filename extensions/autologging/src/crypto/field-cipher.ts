import crypto from 'node:crypto';
import { CryptoError } from '../errors.ts';
import type { Keys } from './keyring.ts';

/** The personal fields that are encrypted and indexed. */
export type PersonalField = 'user' | 'fullName' | 'clientName' | 'clientAddress';

const FORMAT = 1;
const NONCE = 12;
const TAG = 16;
const HEADER = 2;

/** Pseudonym prefixes, one letter a field: `U-1A2B3C4D` is a user, `C-…` a client name. */
const PSEUDONYM_PREFIX: Record<PersonalField, string> = {
  user: 'U',
  fullName: 'N',
  clientName: 'C',
  clientAddress: 'A',
};

/**
 * Encrypts personal values (AES-256-GCM, a fresh random nonce per value) bound to the record
 * and field they belong to, and computes keyed blind indexes for exact-match search.
 *
 * Ciphertext layout: format byte, key-version byte, 12-byte nonce, ciphertext, 16-byte tag.
 * Associated data: record id, a NUL, the field name, so a value moved to another record or
 * field fails to decrypt.
 */
export class FieldCipher {
  readonly #version: number;
  // Key objects, made once: building one from raw bytes for every value costs four times
  // more than the encryption itself (bench/journal-ingest).
  readonly #dataKey: crypto.KeyObject;
  /** Every data key by version, the current one included: ciphertexts say which they need. */
  readonly #dataKeys = new Map<number, crypto.KeyObject>();
  readonly #indexKey: crypto.KeyObject;
  #nonces = Buffer.alloc(0);
  #nonceAt = 0;

  constructor(keys: Keys) {
    this.#version = keys.version;
    this.#dataKey = crypto.createSecretKey(keys.dataKey.reveal());
    for (const [version, key] of keys.olderDataKeys ?? []) {
      this.#dataKeys.set(version & 0xff, crypto.createSecretKey(key.reveal()));
    }
    this.#dataKeys.set(this.#version & 0xff, this.#dataKey);
    this.#indexKey = crypto.createSecretKey(keys.indexKey.reveal());
  }

  /** The key version new ciphertexts are written with. */
  get keyVersion(): number {
    return this.#version;
  }

  /** The key versions this cipher can decrypt, oldest first. */
  get keyVersions(): number[] {
    return [...this.#dataKeys.keys()].sort((a, b) => a - b);
  }

  /** The key version a ciphertext was written with. Throws `ECIPHERTEXT` for anything else. */
  static versionOf(blob: Uint8Array): number {
    if (blob.byteLength < HEADER + NONCE + TAG || blob[0] !== FORMAT) {
      throw new CryptoError('ECIPHERTEXT', 'the value is not a ciphertext');
    }
    return blob[1]!;
  }

  /** Encrypts `value` for `field` of record `recordId`. */
  encrypt(recordId: string, field: PersonalField, value: string): Uint8Array {
    return this.#encryptWith(`${recordId}\0${field}`, value);
  }

  /**
   * Decrypts what `encrypt` wrote, with the key version its ciphertext names. Throws
   * `CryptoError` `ECIPHERTEXT` when the value was altered, belongs to another record or
   * field, or was written with another key; `EKEYVERSION` when the keyring lacks its version.
   */
  decrypt(recordId: string, field: PersonalField, blob: Uint8Array): string {
    return this.#decryptWith(`${recordId}\0${field}`, `${field} of record ${recordId}`, blob);
  }

  #encryptWith(associated: string, value: string): Uint8Array {
    const nonce = this.#nextNonce();
    const cipher = crypto.createCipheriv('aes-256-gcm', this.#dataKey, nonce);
    cipher.setAAD(Buffer.from(associated, 'utf8'));
    const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    const header = Buffer.from([FORMAT, this.#version & 0xff]);
    return Buffer.concat([header, nonce, body, cipher.getAuthTag()]);
  }

  #decryptWith(associated: string, what: string, blob: Uint8Array): string {
    const data = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    if (data.length < HEADER + NONCE + TAG || data[0] !== FORMAT) {
      throw new CryptoError('ECIPHERTEXT', `${what} is not a ciphertext`);
    }
    const key = this.#dataKeys.get(data[1]!);
    if (!key) {
      throw new CryptoError(
        'EKEYVERSION',
        `${what} was written with key version ${data[1]}, ` +
          `this keyring holds versions ${this.keyVersions.join(', ')}`,
      );
    }
    try {
      const nonce = data.subarray(HEADER, HEADER + NONCE);
      const decipher = crypto.createDecipheriv('aes-256-gcm', key, nonce);
      decipher.setAAD(Buffer.from(associated, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - TAG));
      const body = data.subarray(HEADER + NONCE, data.length - TAG);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new CryptoError('ECIPHERTEXT', `${what} failed authentication: altered, or not ours`, {
        cause: error,
      });
    }
  }

  /** Encrypts a secret setting (a password, a client secret) under its name. */
  sealSecret(name: string, value: string): Uint8Array {
    return this.#encryptWith(`secret\0${name}`, value);
  }

  /** Decrypts what `sealSecret` wrote. Throws `CryptoError` `ECIPHERTEXT` like `decrypt`. */
  openSecret(name: string, blob: Uint8Array): string {
    return this.#decryptWith(`secret\0${name}`, `secret ${name}`, blob);
  }

  /**
   * The blind index of a value: HMAC-SHA256 under the index key over the field name and the
   * normalised value (Unicode NFC, trimmed, lower case: Windows account and host names are
   * case-insensitive), as 32 hex digits. Equal values give equal indexes; nothing else leaks.
   */
  blindIndex(field: PersonalField, value: string): string {
    return this.#mac(field, normalise(value)).subarray(0, 16).toString('hex');
  }

  /** A stable, short, readable stand-in for a value, derived from its blind index. */
  pseudonym(field: PersonalField, index: string): string {
    return `${PSEUDONYM_PREFIX[field]}-${index.slice(0, 8).toUpperCase()}`;
  }

  /**
   * A keyed digest of arbitrary content (a record's canonical form), for change detection
   * without keeping plain values: 32 hex digits.
   */
  fingerprint(content: string): string {
    return this.#mac('fingerprint', content).subarray(0, 16).toString('hex');
  }

  /** A fresh random nonce, cut from a block of random bytes drawn 1,024 nonces at a time. */
  #nextNonce(): Buffer {
    if (this.#nonceAt >= this.#nonces.length) {
      this.#nonces = crypto.randomBytes(NONCE * 1024);
      this.#nonceAt = 0;
    }
    const nonce = this.#nonces.subarray(this.#nonceAt, this.#nonceAt + NONCE);
    this.#nonceAt += NONCE;
    return nonce;
  }

  #mac(label: string, value: string): Buffer {
    return crypto
      .createHmac('sha256', this.#indexKey)
      .update(label)
      .update('\0')
      .update(value, 'utf8')
      .digest();
  }
}

function normalise(value: string): string {
  return value.normalize('NFC').trim().toLowerCase();
}
