import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { event, hostSample, session } from '../../../../tests/support/records.ts';
import { tempDir } from '../../../../tests/support/temp.ts';
import { FieldCipher } from '../crypto/field-cipher.ts';
import { openKeyring } from '../crypto/keyring.ts';
import { Journal } from './journal.ts';
import { V1_SCHEMA } from './migrations.ts';
import { columnNames, YEARLY_KINDS } from './schema.ts';

const keys = openKeyring({ home: tempDir() });
const cipher = new FieldCipher(keys);
const opened: Array<{ close(): void }> = [];

afterEach(() => {
  for (const handle of opened.splice(0)) handle.close();
});

const at = (y: number, m: number, d: number, h = 0) => Date.UTC(y, m - 1, d, h);
const YEAR_END = { start: at(2025, 12, 31), end: at(2026, 1, 2) };

function open(file: string): Journal {
  const journal = Journal.open(file, cipher, () => at(2026, 1, 5));
  opened.push(journal);
  return journal;
}

/**
 * A version 1 journal: the v1 tables, holding the rows (with their ids, revisions and
 * ciphertexts) that a journal of today stores for records of 2025 and 2026, and what
 * `changes()` of that journal lists: what the upgraded file must hand out again.
 */
function versionOneJournal() {
  const home = tempDir();
  const source = open(path.join(home, 'source.db'));
  source.applyCapture(
    'demo',
    [
      session({ key: 's-2025', startAt: at(2025, 12, 31, 22), endAt: at(2026, 1, 1, 3) }),
      session({ key: 's-2026', startAt: at(2026, 1, 1, 8), endAt: null }),
      event({ key: 'e-2025', at: at(2025, 12, 31, 22) }),
      event({ key: 'e-2026', at: at(2026, 1, 1, 8) }),
      hostSample({ at: at(2025, 12, 31, 23) }),
    ],
    '42',
  );
  const run = source.startRun('capture:demo', 'capture', 'demo', 'schedule');
  source.finishRun(run, { outcome: 'ok', recordsIn: 5, recordsNew: 5 });
  const expected = source.changes(0, 100);
  const rev = source.lastRev();
  source.close();

  const file = path.join(home, 'journal.db');
  const db = new DatabaseSync(file);
  db.exec(V1_SCHEMA);
  db.exec(`ATTACH DATABASE '${path.join(home, 'source.db')}' AS source`);
  for (const kind of YEARLY_KINDS) {
    const columns = columnNames(kind).join(', ');
    db.exec(`INSERT INTO ${kind} (${columns}) SELECT ${columns} FROM source.${kind}`);
  }
  db.exec(`INSERT INTO runs SELECT * FROM source.runs;
    INSERT INTO cursors SELECT * FROM source.cursors;
    INSERT INTO meta SELECT * FROM source.meta WHERE key IN ('rev', 'max_span_ms');
    INSERT INTO meta (key, value) VALUES ('schema_version', '1');
    DETACH DATABASE source;`);
  db.close();
  return { file, expected, rev, run };
}

function schemaOf(file: string) {
  const db = new DatabaseSync(file, { readOnly: true });
  opened.push(db);
  const objects = db
    .prepare(`SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name`)
    .all()
    .map((r) => `${r.type as string} ${r.name as string}`);
  const version = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get()!.value;
  return { objects, version };
}

describe('journal migration from version 1', () => {
  it('moves every row to the table of its year with its id, revision and ciphertext', () => {
    const { file, expected, rev, run } = versionOneJournal();

    const journal = open(file);

    expect(journal.changes(0, 100)).toEqual(expected);
    expect(journal.lastRev()).toBe(rev);
    expect(journal.stats()).toMatchObject({ sessions: 2, events: 2, hostLoad: 1, runs: 1 });
    expect(journal.cursor('demo')).toBe('42');
    expect(journal.recentRuns(1)[0]).toMatchObject({ id: run, outcome: 'ok', recordsNew: 5 });
    const plain = [...journal.sessions(YEAR_END, 'plain')];
    expect(plain.map((s) => [s.key, s.user, s.clientAddress])).toEqual([
      ['s-2025', 'minjun.kim', '10.20.31.44'],
      ['s-2026', 'minjun.kim', '10.20.31.44'],
    ]);
    expect([...journal.events(YEAR_END, 'plain')].map((e) => e.user)).toEqual([
      'minjun.kim',
      'minjun.kim',
    ]);

    const { objects, version } = schemaOf(file);
    expect(version).toBe('2');
    expect(objects).toEqual(
      expect.arrayContaining([
        'table events_2025',
        'table events_2026',
        'table host_load_2025',
        'table sessions_2025',
        'table sessions_2026',
        'view events',
        'view host_load',
        'view sessions',
      ]),
    );
    expect(objects).not.toContain('table sessions');
  });

  it('goes on from the migrated journal: new revisions follow the old ones', () => {
    const { file, rev } = versionOneJournal();
    const journal = open(file);
    journal.applyCapture('demo', [event({ key: 'after', at: at(2026, 1, 4) })], null);
    expect(journal.changes(rev, 10).map((c) => [c.table, c.rev])).toEqual([['events', rev + 1]]);
  });

  it('says EJOURNALMIGRATE when a row fits no year, and finishes the work once it is fixed', () => {
    const { file, expected } = versionOneJournal();
    const db = new DatabaseSync(file);
    db.exec(`INSERT INTO events SELECT 'bad', source, natural_key, 999, key_version, type,
      1e17, user_enc, user_idx, domain, machine, session_key, client_name_enc, client_name_idx,
      client_address_enc, client_address_idx, code, detail, captured_at FROM events LIMIT 1`);
    db.close();

    expect(() => open(file)).toThrow(expect.objectContaining({ code: 'EJOURNALMIGRATE' }));
    const cut = schemaOf(file);
    expect(cut.version).toBe('1');
    expect(cut.objects).toEqual(
      expect.arrayContaining(['view sessions', 'table sessions_2025', 'table events']),
    );

    const fix = new DatabaseSync(file);
    fix.exec(`DELETE FROM events WHERE id = 'bad'`);
    fix.close();
    expect(open(file).changes(0, 100)).toEqual(expected);
    expect(schemaOf(file).version).toBe('2');
  });
});
