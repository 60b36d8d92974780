import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { event, hostSample, session } from '../../../../tests/support/records.ts';
import { tempDir } from '../../../../tests/support/temp.ts';
import { FieldCipher } from '../crypto/field-cipher.ts';
import { openKeyring } from '../crypto/keyring.ts';
import type { CaptureRecord } from '../records.ts';
import { Journal, recordId } from './journal.ts';

/** One keyring for the file: its scrypt is slow, and the keys need not differ between tests. */
const keys = openKeyring({ home: tempDir() });
const opened: Array<{ close(): void }> = [];

afterEach(() => {
  for (const handle of opened.splice(0)) handle.close();
});

/** A journal in a temp folder on a clock the test sets. */
function openJournal(file = path.join(tempDir(), 'journal.db')) {
  const clock = { now: Date.UTC(2026, 11, 3, 12) };
  const journal = Journal.open(file, new FieldCipher(keys), () => clock.now);
  opened.push(journal);
  return { journal, file, clock };
}

/** The file as plain SQL sees it, through another connection. */
function inspect(file: string) {
  const db = new DatabaseSync(file, { readOnly: true });
  opened.push(db);
  const count = (table: string) =>
    Number(db.prepare(`SELECT count(*) AS n FROM ${table}`).get()!.n);
  return {
    db,
    count,
    /** Year tables and their row counts, e.g. `{ sessions_2025: 1 }`. */
    yearTables(): Record<string, number> {
      const names = db
        .prepare(
          `SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB '*_[0-9][0-9][0-9][0-9]'
           ORDER BY name`,
        )
        .all()
        .map((r) => String(r.name));
      return Object.fromEntries(names.map((name) => [name, count(name)]));
    },
  };
}

const at = (y: number, m: number, d: number, h = 0, min = 0) => Date.UTC(y, m - 1, d, h, min);
const NEW_YEARS_EVE = { start: at(2025, 12, 31, 12), end: at(2026, 1, 1, 12) };

describe('journal year tables', () => {
  it('stores each record in the table of its UTC year: sessions by start, the rest by time', () => {
    const { journal, file } = openJournal();
    journal.applyCapture(
      'demo',
      [
        session({ startAt: at(2025, 12, 31, 23, 30), stateChangedAt: at(2025, 12, 31, 23, 30) }),
        event({ at: at(2026, 1, 1, 0, 10) }),
        hostSample({ at: at(2025, 12, 31, 22) }),
      ],
      null,
    );

    const sql = inspect(file);
    expect(sql.yearTables()).toEqual({ events_2026: 1, host_load_2025: 1, sessions_2025: 1 });
    // The views named as the tables of version 1 show every year to plain SQL.
    expect([sql.count('sessions'), sql.count('events'), sql.count('host_load')]).toEqual([1, 1, 1]);
  });

  it('moves a session whose start turns out to lie in the previous year, keeping its identity', () => {
    const { journal, file, clock } = openJournal();
    const seen = at(2026, 1, 1, 0, 5);
    const firstSeen = clock.now;
    journal.applyCapture('demo', [session({ startAt: null, stateChangedAt: seen })], null);
    expect(inspect(file).yearTables()).toEqual({ sessions_2026: 1 });

    clock.now += 60_000;
    const start = at(2025, 12, 31, 23, 50);
    const result = journal.applyCapture(
      'demo',
      [session({ startAt: start, stateChangedAt: seen })],
      null,
    );

    expect(result).toEqual({ in: 1, new: 0, updated: 1 });
    expect(inspect(file).yearTables()).toEqual({ sessions_2025: 1, sessions_2026: 0 });
    const listed = [...journal.sessions(NEW_YEARS_EVE)];
    expect(listed.map((s) => [s.id, s.startAt])).toEqual([
      [recordId('demo', 'session', session().key), start],
    ]);
    const changes = journal.changes(0, 100);
    expect(changes.map((c) => [c.table, c.rev])).toEqual([['sessions', 2]]);
    expect(changes[0]!.row).toMatchObject({ first_seen_at: firstSeen, updated_at: clock.now });
    expect(journal.stats().sessions).toBe(1);
  });

  it('reads a range across New Year from the tables of both years', () => {
    const { journal } = openJournal();
    journal.applyCapture(
      'demo',
      [
        session({ key: 'old-year', startAt: at(2025, 12, 31, 20), endAt: at(2025, 12, 31, 23) }),
        session({ key: 'over-midnight', startAt: at(2025, 12, 31, 22), endAt: at(2026, 1, 1, 2) }),
        session({ key: 'new-year', startAt: at(2026, 1, 1, 9), endAt: null }),
        session({ key: 'open-since-2024', startAt: at(2024, 6, 3, 8), endAt: null }),
        session({ key: 'long-gone', startAt: at(2024, 6, 3, 8), endAt: at(2024, 6, 3, 17) }),
        event({ key: 'e-2025', at: at(2025, 12, 31, 23, 59) }),
        event({ key: 'e-2026', at: at(2026, 1, 1, 0, 1) }),
        event({ key: 'e-later', at: at(2026, 1, 2) }),
        hostSample({ at: at(2025, 12, 31, 23) }),
        hostSample({ at: at(2026, 1, 1, 1) }),
      ],
      null,
    );

    expect([...journal.sessions(NEW_YEARS_EVE)].map((s) => s.key)).toEqual([
      'open-since-2024',
      'old-year',
      'over-midnight',
      'new-year',
    ]);
    expect([...journal.events(NEW_YEARS_EVE)].map((e) => e.key)).toEqual(['e-2025', 'e-2026']);
    expect([...journal.hostLoad(NEW_YEARS_EVE)].map((h) => h.at)).toEqual([
      at(2025, 12, 31, 23),
      at(2026, 1, 1, 1),
    ]);
    expect(journal.hasData({ start: at(2026, 1, 2), end: at(2026, 1, 2, 1) })).toBe(true);
    expect(journal.hasData({ start: at(2023, 1, 1), end: at(2023, 1, 2) })).toBe(false);
    expect(journal.earliest()).toBe(at(2024, 6, 3, 8));
  });

  it('finds a session in whichever year holds it, also when another connection put it there', () => {
    const { journal, file } = openJournal();
    const other = openJournal(file).journal;
    expect(journal.stats().sessions).toBe(0);

    const start = at(2025, 12, 31, 23);
    other.applyCapture('demo', [session({ startAt: start, stateChangedAt: start })], null);
    const update = journal.applyCapture(
      'demo',
      [session({ startAt: at(2026, 1, 1, 1), stateChangedAt: at(2026, 1, 1, 1) })],
      null,
    );

    expect(update).toEqual({ in: 1, new: 0, updated: 1 });
    expect(inspect(file).yearTables()).toEqual({ sessions_2025: 0, sessions_2026: 1 });
    expect(other.stats().sessions).toBe(1);
  });

  it('leaves no year table behind when a capture is rolled back', () => {
    const { journal, file } = openJournal();
    const broken = { ...event({ key: 'x' }), type: null } as unknown as CaptureRecord;
    expect(() =>
      journal.applyCapture('demo', [session({ startAt: at(2030, 5, 1) }), broken], null),
    ).toThrow(expect.objectContaining({ code: 'EJOURNALWRITE' }));
    expect(() =>
      journal.applyCapture('demo', [event({ key: 'no-time', at: Number.NaN })], null),
    ).toThrow(expect.objectContaining({ code: 'EJOURNALWRITE' }));

    expect(inspect(file).yearTables()).toEqual({});
    expect(journal.stats()).toMatchObject({ sessions: 0, events: 0 });
    expect(journal.applyCapture('demo', [session({ startAt: at(2030, 5, 1) })], null).new).toBe(1);
  });

  it('lists changes across years in revision order, each record once', () => {
    const { journal } = openJournal();
    for (const year of [2026, 2024, 2025]) {
      journal.applyCapture(
        'demo',
        [
          session({ key: `s-${year}`, startAt: at(year, 3, 1), stateChangedAt: at(year, 3, 1) }),
          event({ key: `e-${year}`, at: at(year, 3, 1) }),
          hostSample({ at: at(year, 3, 1) }),
        ],
        null,
      );
    }
    // The 2026 session turns out to have begun in 2025, and a 2024 one ends.
    journal.applyCapture(
      'demo',
      [
        session({ key: 's-2026', startAt: at(2025, 12, 30), stateChangedAt: at(2026, 3, 1) }),
        session({
          key: 's-2024',
          startAt: at(2024, 3, 1),
          endAt: at(2024, 3, 2),
          state: 'Terminated',
          stateChangedAt: at(2024, 3, 2),
        }),
      ],
      null,
    );

    const all = journal.changes(0, 1_000);
    const revs = all.map((c) => c.rev);
    expect(revs).toEqual([...revs].sort((a, b) => a - b));
    expect(new Set(revs).size).toBe(revs.length);
    expect(new Set(all.map((c) => `${c.table}:${c.row.id as string}`)).size).toBe(9);
    expect(all.at(-2)).toMatchObject({ table: 'sessions', rev: 10 });
    expect(all.at(-1)).toMatchObject({ table: 'sessions', rev: 11 });

    const paged = [];
    let page = journal.changes(0, 2);
    while (page.length > 0) {
      paged.push(...page);
      page = journal.changes(page.at(-1)!.rev, 2);
    }
    expect(paged).toEqual(all);
  });
});

describe('journal retention', () => {
  /** Two sessions, an event and a host sample in each year from 2021 to 2026. */
  function sixYears() {
    const setup = openJournal();
    const { journal, clock } = setup;
    for (let year = 2021; year <= 2026; year++) {
      clock.now = at(year, 7, 1);
      const run = journal.startRun('capture:demo', 'capture', 'demo', 'schedule');
      journal.applyCapture(
        'demo',
        [
          session({ key: `a-${year}`, startAt: at(year, 2, 1), endAt: at(year, 2, 1, 9) }),
          session({ key: `b-${year}`, startAt: at(year, 12, 31, 22), endAt: null }),
          event({ key: `e-${year}`, at: at(year, 6, 1) }),
          hostSample({ at: at(year, 6, 1) }),
        ],
        null,
      );
      journal.finishRun(run, { outcome: 'ok' });
    }
    clock.now = at(2026, 12, 3, 12);
    return setup;
  }

  it('drops the tables of 2021 and 2022 on 3 December 2026, keeping 2023 to 2026 as they were', () => {
    const { journal, file, clock } = sixYears();
    const before = inspect(file).yearTables();

    expect(journal.retain(3, clock.now)).toEqual({ droppedYears: [2021, 2022] });

    const after = inspect(file).yearTables();
    const kept = Object.fromEntries(
      Object.entries(before).filter(([name]) => !/_202[12]$/.test(name)),
    );
    expect(Object.keys(kept)).toHaveLength(12);
    expect(after).toEqual(kept);
    expect(journal.stats()).toMatchObject({ sessions: 8, events: 4, hostLoad: 4, runs: 4 });
    expect(inspect(file).count('sessions')).toBe(8);
    expect(journal.earliest()).toBe(at(2023, 2, 1));
    expect(journal.recentRuns(10).map((r) => new Date(r.startedAt).getUTCFullYear())).toEqual([
      2026, 2025, 2024, 2023,
    ]);
  });

  it('does not store again what a removed year held, and drops nothing twice', () => {
    const { journal, file, clock } = sixYears();
    journal.retain(3, clock.now);

    const again = journal.applyCapture(
      'demo',
      [
        session({ key: 'a-2021', startAt: at(2021, 2, 1) }),
        event({ key: 'late', at: at(2022, 1, 1) }),
      ],
      null,
    );

    expect(again).toEqual({ in: 2, new: 0, updated: 0 });
    expect(Object.keys(inspect(file).yearTables()).some((t) => /_202[12]$/.test(t))).toBe(false);
    expect(journal.retain(3, clock.now)).toEqual({ droppedYears: [] });
    expect(journal.retain(4, at(2027, 1, 1))).toEqual({ droppedYears: [] });
  });

  it('refuses to keep fewer than 3 years before the current one: ERETENTION', () => {
    const { journal, file, clock } = sixYears();
    for (const years of [2, 0, -1, 3.5, Number.NaN]) {
      expect(() => journal.retain(years, clock.now)).toThrow(
        expect.objectContaining({ code: 'ERETENTION' }),
      );
    }
    expect(Object.keys(inspect(file).yearTables())).toHaveLength(18);
  });
});
