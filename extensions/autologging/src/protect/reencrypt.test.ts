import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { event, session } from '../../../../tests/support/records.ts';
import { tempDir } from '../../../../tests/support/temp.ts';
import { FieldCipher } from '../crypto/field-cipher.ts';
import { Keyring } from '../crypto/keyring.ts';
import { Journal } from '../journal/journal.ts';
import { reencryptJournal, reencryptPosition } from './reencrypt.ts';

/** Every ciphertext and blind index of the file, as plain SQL reads it. */
function ciphertexts(file: string) {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const tables = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB '*_[0-9]*'`)
      .all()
      .map((r) => String(r.name));
    const versions: number[] = [];
    const indexes: string[] = [];
    for (const table of [...tables, 'audit']) {
      const columns = db
        .prepare('SELECT name FROM pragma_table_info(?)')
        .all(table)
        .map((r) => String(r.name));
      for (const row of db.prepare(`SELECT * FROM ${table} ORDER BY id`).all()) {
        for (const c of columns) {
          if (c.endsWith('_enc') && row[c]) versions.push((row[c] as Uint8Array)[1]!);
          if (c.endsWith('_idx') && row[c]) indexes.push(`${table}.${c}=${String(row[c])}`);
        }
      }
    }
    return { versions, indexes };
  } finally {
    db.close();
  }
}

describe('re-encrypt pass', () => {
  it('stops half-way, resumes where it stopped, and leaves every value on the new version with blind indexes unchanged', () => {
    const home = tempDir();
    const file = path.join(home, 'journal.db');
    const keyring = Keyring.open({ home });
    const journal = Journal.open(file, new FieldCipher(keyring.keys()));
    const records = Array.from({ length: 30 }, (_, i) => [
      session({ key: `s${i}`, user: `user${i}`, clientName: `PC-${i}` }),
      event({ key: `e${i}`, user: `user${i}`, at: Date.UTC(2025, 5, 1 + i) }),
    ]).flat();
    journal.applyCapture('demo', records, null);
    journal.audit({
      action: 'decrypt',
      actor: 'CORP\\auditor',
      subject: '2026-12-03',
      detail: null,
    });
    journal.close();
    const before = ciphertexts(file);
    expect(new Set(before.versions)).toEqual(new Set([1]));

    keyring.rotate();
    const cipher = new FieldCipher(keyring.keys());
    const first = reencryptJournal(file, cipher, { batchSize: 7, maxBatches: 3 });
    expect(first.done).toBe(false);
    expect(first.rows).toBeGreaterThan(0);
    expect(reencryptPosition(file)).toMatchObject({ target: 2 });
    const half = ciphertexts(file).versions;
    expect(half).toContain(1);
    expect(half).toContain(2);

    const rest = reencryptJournal(file, cipher, { batchSize: 7 });
    expect(rest.done).toBe(true);
    expect(first.rows + rest.rows).toBe(61);
    expect(reencryptPosition(file)).toBeNull();
    const after = ciphertexts(file);
    expect(new Set(after.versions)).toEqual(new Set([2]));
    expect(after.indexes).toEqual(before.indexes);

    // Only the new key is needed now, and the journal reads every value as before.
    const again = Journal.open(file, cipher);
    const day = { start: Date.UTC(2025, 0, 1), end: Date.UTC(2027, 0, 1) };
    const users = [...again.sessions(day, 'plain')].map((s) => s.user).sort();
    expect(users).toEqual(Array.from({ length: 30 }, (_, i) => `user${i}`).sort());
    expect([...again.events(day, 'plain')].map((e) => e.clientName)).toContain('KR-LT-04821');
    again.close();
    expect(reencryptJournal(file, cipher).rows).toBe(0);
  });

  it('fails with EKEYVERSION when the keyring lacks the version a value was written with', () => {
    const file = path.join(tempDir(), 'journal.db');
    const journal = Journal.open(file, new FieldCipher(Keyring.open({ home: tempDir() }).keys()));
    journal.applyCapture('demo', [session()], null);
    journal.close();
    const keyring = Keyring.open({ home: tempDir() });
    keyring.rotate();
    const keys = keyring.keys();
    const onlyNew = new FieldCipher({ ...keys, olderDataKeys: new Map() });
    expect(onlyNew.keyVersions).toEqual([2]);
    expect(() => reencryptJournal(file, onlyNew)).toThrow(
      expect.objectContaining({ code: 'EKEYVERSION' }),
    );
  });
});
