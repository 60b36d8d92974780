import fs from 'node:fs';
import path from 'node:path';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import { CryptoError, SettingsError } from '../errors.ts';
import { writeFileAtomic } from '../platform/files.ts';
import { isSecretKey } from './schema.ts';

/** How settings.json points at a secret kept in the vault: `{ "$secret": "name" }`. */
export interface SecretRef {
  $secret: string;
}

/** True for a `{ "$secret": "name" }` reference. */
export function isSecretRef(value: unknown): value is SecretRef {
  return (
    value !== null &&
    typeof value === 'object' &&
    Object.keys(value).length === 1 &&
    typeof (value as SecretRef).$secret === 'string'
  );
}

interface VaultFile {
  format: 'autologging-secrets';
  version: 1;
  secrets: Record<string, string>;
}

const FILE = 'secrets.json';

/**
 * Secret settings (passwords, client secrets) encrypted with the data key, each bound to its
 * name, in `secrets.json` beside the settings; settings.json holds only references to them.
 */
export class SecretVault {
  readonly file: string;
  readonly #cipher: FieldCipher;
  readonly #secrets: Record<string, string>;
  #dirty = false;

  private constructor(file: string, cipher: FieldCipher, secrets: Record<string, string>) {
    this.file = file;
    this.#cipher = cipher;
    this.#secrets = secrets;
  }

  /** Opens the vault of data folder `home` (empty when there is none yet). */
  static open(home: string, cipher: FieldCipher): SecretVault {
    const file = path.join(home, FILE);
    if (!fs.existsSync(file)) return new SecretVault(file, cipher, {});
    let vault: VaultFile;
    try {
      vault = JSON.parse(fs.readFileSync(file, 'utf8')) as VaultFile;
    } catch (error) {
      throw new CryptoError('ESECRETS', `the secrets file ${file} cannot be read`, {
        cause: error,
      });
    }
    if (vault?.format !== 'autologging-secrets' || typeof vault.secrets !== 'object') {
      throw new CryptoError('ESECRETS', `${file} is not an AutoLogging secrets file`);
    }
    return new SecretVault(file, cipher, { ...vault.secrets });
  }

  /** The names of the secrets held. */
  names(): string[] {
    return Object.keys(this.#secrets).sort();
  }

  /** The secret called `name`. Throws `SettingsError` `ESECRET` when there is none. */
  get(name: string): string {
    const sealed = this.#secrets[name];
    if (sealed === undefined) {
      throw new SettingsError(
        `settings refer to the secret "${name}", which ${this.file} does not hold: set it again`,
        { code: 'ESECRET' },
      );
    }
    return this.#cipher.openSecret(name, Buffer.from(sealed, 'base64'));
  }

  /** Keeps `value` as the secret `name`; `save` writes it. */
  set(name: string, value: string): void {
    this.#secrets[name] = Buffer.from(this.#cipher.sealSecret(name, value)).toString('base64');
    this.#dirty = true;
  }

  /** Forgets the secret `name`. */
  delete(name: string): void {
    if (name in this.#secrets) {
      delete this.#secrets[name];
      this.#dirty = true;
    }
  }

  /** Writes the vault, owner-only, if anything changed. */
  save(): void {
    if (!this.#dirty) return;
    const vault: VaultFile = { format: 'autologging-secrets', version: 1, secrets: this.#secrets };
    writeFileAtomic(this.file, JSON.stringify(vault, null, 2) + '\n');
    this.#dirty = false;
  }
}

/**
 * Moves every secret written in plain text in `raw` (an option whose name says password,
 * secret, token…) into the vault and leaves a reference in its place. Returns true when `raw`
 * changed, so the caller rewrites settings.json. Secrets are named after where they sit, with
 * sources by id: `sources.odata.options.password`.
 */
export function sealSecrets(raw: unknown, vault: SecretVault): boolean {
  let changed = false;
  walk(raw, [], (holder, key, value, where) => {
    if (!isSecretKey(key) || typeof value !== 'string' || value === '') return;
    const name = where.join('.');
    vault.set(name, value);
    holder[key] = { $secret: name } satisfies SecretRef;
    changed = true;
  });
  return changed;
}

/** A copy of `raw` with every reference replaced by the secret it names. */
export function resolveSecrets(raw: unknown, vault: SecretVault): unknown {
  return mapRefs(raw, (ref) => vault.get(ref.$secret));
}

/** A copy of `raw` with every reference replaced by `***`: enough to validate without keys. */
export function placeholderSecrets(raw: unknown): unknown {
  return mapRefs(raw, () => '***');
}

function mapRefs(value: unknown, replace: (ref: SecretRef) => string): unknown {
  if (isSecretRef(value)) return replace(value);
  if (Array.isArray(value)) return value.map((v) => mapRefs(v, replace));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapRefs(v, replace)]));
}

type Visit = (
  holder: Record<string, unknown>,
  key: string,
  value: unknown,
  where: string[],
) => void;

function walk(value: unknown, where: string[], visit: Visit): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const id = (item as { id?: unknown } | null)?.id;
      walk(item, [...where, typeof id === 'string' ? id : String(i)], visit);
    });
    return;
  }
  if (value === null || typeof value !== 'object' || isSecretRef(value)) return;
  for (const [key, child] of Object.entries(value)) {
    visit(value as Record<string, unknown>, key, child, [...where, key]);
    walk(child, [...where, key], visit);
  }
}
