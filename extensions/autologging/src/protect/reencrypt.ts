import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { FieldCipher, type PersonalField } from '../crypto/field-cipher.ts';
import { CryptoError, JournalError } from '../errors.ts';
import { auditRecordId } from '../journal/journal.ts';

/** Which personal field each ciphertext column holds; the audit actor is a user name. */
const FIELD_OF_COLUMN: Readonly<Record<string, PersonalField>> = {
  user_enc: 'user',
  full_name_enc: 'fullName',
  client_name_enc: 'clientName',
  client_address_enc: 'clientAddress',
  actor_enc: 'user',
};

const POSITION_KEY = 'reencrypt_position';

/** Where a re-encrypt pass has got to, kept in the journal's `meta` table. */
export interface ReencryptPosition {
  /** The key version the pass moves every ciphertext to. */
  target: number;
  /** The table being walked, in name order. */
  table: string;
  /** The last row done in that table: its `id`, in `id` order. */
  after: string | number | null;
}

/** How far `reencryptJournal` went. */
export interface ReencryptReport {
  /** True when every ciphertext in the journal is on the target version. */
  done: boolean;
  /** Rows rewritten by this call. */
  rows: number;
  /** Where the next call resumes; null once done. */
  position: ReencryptPosition | null;
}

/** Options of `reencryptJournal`. */
export interface ReencryptOptions {
  /** Rows read and rewritten per transaction. Default 500. */
  batchSize?: number;
  /** Stop after this many batches (a later call resumes). Default: no limit. */
  maxBatches?: number;
  /** Stops between batches; what was committed stays. */
  signal?: AbortSignal;
}

/**
 * Rewrites every personal ciphertext of the journal file `file` with the cipher's current key
 * version, so that older data keys can later be retired. Walks every table that has
 * ciphertext columns (the year tables of any layout, and `audit`) in `id` order, one
 * transaction per batch, and keeps its position in `meta` (key `reencrypt_position`) in the
 * same transaction: stopped or crashed half-way, the next call resumes there. Blind indexes are
 * left untouched (the index key never rotates); `rev` is not moved, so sinks are not asked to
 * send the rows again (their copies stay readable with the older key versions).
 *
 * It works on the file with plain SQL rather than through `Journal`, which has no method to
 * walk ciphertexts; writers elsewhere (a running agent) wait for each batch.
 *
 * Throws `CryptoError` `EKEYVERSION` or `ECIPHERTEXT` when a value cannot be decrypted (the
 * keyring lacks its version, or it was altered), `JournalError` `EJOURNALOPEN` when the file
 * cannot be opened.
 */
export function reencryptJournal(
  file: string,
  cipher: FieldCipher,
  options: ReencryptOptions = {},
): ReencryptReport {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file, { timeout: 15_000 });
  } catch (error) {
    throw new JournalError('EJOURNALOPEN', `cannot open the journal ${file}`, { cause: error });
  }
  try {
    return new Pass(db, cipher, options).run();
  } finally {
    db.close();
  }
}

/** Reads the stored position of an unfinished re-encrypt pass, or null when there is none. */
export function reencryptPosition(file: string): ReencryptPosition | null {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return readPosition(db);
  } finally {
    db.close();
  }
}

interface CipherTable {
  name: string;
  columns: string[];
  hasKeyVersion: boolean;
  isAudit: boolean;
}

class Pass {
  readonly #db: DatabaseSync;
  readonly #cipher: FieldCipher;
  readonly #batchSize: number;
  readonly #maxBatches: number;
  readonly #signal: AbortSignal | undefined;
  readonly #journalId: string | null;

  constructor(db: DatabaseSync, cipher: FieldCipher, options: ReencryptOptions) {
    this.#db = db;
    this.#cipher = cipher;
    this.#batchSize = options.batchSize ?? 500;
    this.#maxBatches = options.maxBatches ?? Infinity;
    this.#signal = options.signal;
    const row = db.prepare(`SELECT value FROM meta WHERE key = 'journal_id'`).get();
    this.#journalId = (row?.value as string | undefined) ?? null;
  }

  run(): ReencryptReport {
    const target = this.#cipher.keyVersion;
    const tables = cipherTables(this.#db);
    const stored = readPosition(this.#db);
    let position: ReencryptPosition =
      stored && stored.target === target
        ? stored
        : { target, table: tables[0]?.name ?? '', after: null };
    let rows = 0;
    let batches = 0;

    for (const table of tables) {
      if (table.name < position.table) continue;
      if (table.name > position.table) position = { target, table: table.name, after: null };
      for (;;) {
        if (batches >= this.#maxBatches || this.#signal?.aborted) {
          return { done: false, rows, position };
        }
        const batch = this.#batch(table, position);
        batches++;
        rows += batch.rewritten;
        position = batch.position;
        if (batch.last) break;
      }
    }
    this.#db.prepare('DELETE FROM meta WHERE key = ?').run(POSITION_KEY);
    return { done: true, rows, position: null };
  }

  /** One transaction: the next rows of `table` after `position`, rewritten where needed. */
  #batch(
    table: CipherTable,
    position: ReencryptPosition,
  ): { rewritten: number; position: ReencryptPosition; last: boolean } {
    const target = position.target;
    const filter = table.hasKeyVersion ? 'AND key_version != ?' : '';
    const select = this.#db.prepare(
      `SELECT id, ${table.columns.join(', ')} FROM ${table.name}
        WHERE (? IS NULL OR id > ?) ${filter} ORDER BY id LIMIT ?`,
    );
    const params: SQLInputValue[] = [position.after, position.after];
    if (table.hasKeyVersion) params.push(target);
    params.push(this.#batchSize);

    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const found = select.all(...params);
      let rewritten = 0;
      for (const row of found) {
        if (this.#rewrite(table, row)) rewritten++;
      }
      const last = found.length < this.#batchSize;
      const after = found.length
        ? (found[found.length - 1]!.id as string | number)
        : position.after;
      const next = { target, table: table.name, after };
      writePosition(this.#db, next);
      this.#db.exec('COMMIT');
      return { rewritten, position: next, last };
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  #rewrite(table: CipherTable, row: Record<string, unknown>): boolean {
    const target = this.#cipher.keyVersion;
    const recordId = this.#recordId(table, row);
    const sets: string[] = [];
    const values: SQLInputValue[] = [];
    for (const column of table.columns) {
      const blob = row[column] as Uint8Array | null;
      if (blob === null || FieldCipher.versionOf(blob) === target) continue;
      const field = FIELD_OF_COLUMN[column]!;
      const plain = this.#cipher.decrypt(recordId, field, blob);
      sets.push(`${column} = ?`);
      values.push(this.#cipher.encrypt(recordId, field, plain));
    }
    if (table.hasKeyVersion) {
      sets.push('key_version = ?');
      values.push(target);
    }
    if (!sets.length) return false;
    this.#db
      .prepare(`UPDATE ${table.name} SET ${sets.join(', ')} WHERE id = ?`)
      .run(...values, row.id as SQLInputValue);
    return true;
  }

  #recordId(table: CipherTable, row: Record<string, unknown>): string {
    if (!table.isAudit) return row.id as string;
    if (!this.#journalId) {
      throw new CryptoError('ECIPHERTEXT', 'the journal has audit entries but no journal id');
    }
    return auditRecordId(this.#journalId, Number(row.id));
  }
}

/** Every table with ciphertext columns, in name order. */
function cipherTables(db: DatabaseSync): CipherTable[] {
  const names = db
    .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
    .all()
    .map((r) => String(r.name));
  const tables: CipherTable[] = [];
  for (const name of names) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) continue;
    const columns = db
      .prepare(`SELECT name FROM pragma_table_info(?)`)
      .all(name)
      .map((r) => String(r.name));
    const encrypted = columns.filter((c) => c in FIELD_OF_COLUMN);
    if (!encrypted.length || !columns.includes('id')) continue;
    tables.push({
      name,
      columns: encrypted,
      hasKeyVersion: columns.includes('key_version'),
      isAudit: name === 'audit',
    });
  }
  return tables;
}

function readPosition(db: DatabaseSync): ReencryptPosition | null {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(POSITION_KEY);
  return row ? (JSON.parse(String(row.value)) as ReencryptPosition) : null;
}

function writePosition(db: DatabaseSync, position: ReencryptPosition): void {
  db.prepare(
    `INSERT INTO meta (key, value) VALUES (?, ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  ).run(POSITION_KEY, JSON.stringify(position));
}
