// Reading one day's sessions for its workbook out of a year of history: the journal's span
// index (start bounded by the longest session seen, open sessions by a partial index, only the
// year tables the day can touch) against the plain overlap query a first version would write,
// run on the `sessions` view of all years. Then removing the oldest year: dropping its table
// against deleting its rows from one table of all years, as version 1 of the journal held them.
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Journal } from '../extensions/autologging/src/journal/journal.ts';
import { V1_SCHEMA } from '../extensions/autologging/src/journal/migrations.ts';
import { DemoSite } from '../extensions/autologging/src/sources/demo/generator.ts';
import { demoSource } from '../extensions/autologging/src/sources/demo/index.ts';
import { addDays, dayRange } from '../extensions/autologging/src/time.ts';
import { benchCipher, benchDir, fmt, median, row, time } from './support.ts';

const site = new DemoSite(demoSource.options.parse({ users: 300, machines: 40 }), 'Asia/Seoul');
const until = Date.UTC(2026, 10, 30);
const dir = benchDir('day-query');
const file = path.join(dir, 'journal.db');
const journal = Journal.open(file, benchCipher(dir));
for (const day of site.days(until - 365 * 86_400_000, until)) {
  journal.applyCapture('demo', day.sessions, null);
}
const sessions = journal.stats().sessions;
const days = Array.from({ length: 30 }, (_, i) => addDays('2025-12-15', i * 11));

let ourRows = 0;
const ours = await median(5, () => {
  ourRows = 0;
  for (const day of days)
    for (const s of journal.sessions(dayRange(day, 'Asia/Seoul')))
      ourRows += s.key.length > 0 ? 1 : 0;
});
journal.close();

const db = new DatabaseSync(file, { readOnly: true });
const naive = db.prepare(
  `SELECT id, natural_key FROM sessions WHERE span_start < ? AND (span_end IS NULL OR span_end >= ?)
   ORDER BY span_start, id`,
);
let naiveRows = 0;
const baseline = await median(5, () => {
  naiveRows = 0;
  for (const day of days) {
    const r = dayRange(day, 'Asia/Seoul');
    naiveRows += naive.all(r.end, r.start).length;
  }
});
db.close();
if (ourRows !== naiveRows) throw new Error(`the two queries disagree: ${ourRows} vs ${naiveRows}`);

// The same sessions in one table of all years, with the same indexes.
const single = new DatabaseSync(path.join(dir, 'single.db'));
single.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; ${V1_SCHEMA}`);
single.exec(`ATTACH DATABASE '${file}' AS journal; INSERT INTO sessions SELECT * FROM journal.sessions;
  DETACH DATABASE journal; PRAGMA wal_checkpoint(TRUNCATE);`);
const oldest = new Date(until - 365 * 86_400_000).getUTCFullYear();
const cut = Date.UTC(oldest + 1, 0, 1);
const removed = Number(
  single.prepare('SELECT count(*) AS n FROM sessions WHERE span_start < ?').get(cut)!.n,
);
const deleteTime = await time(() => {
  single.exec('BEGIN IMMEDIATE');
  single.prepare('DELETE FROM sessions WHERE span_start < ?').run(cut);
  single.exec('COMMIT');
});
single.close();

// Retention of 3 years, four years after the oldest: only the oldest year is past it.
const reopened = Journal.open(file, null);
reopened.maintain();
let dropped: number[] = [];
const dropTime = await time(() => {
  dropped = reopened.retain(3, Date.UTC(oldest + 4, 5, 1)).droppedYears;
});
const left = reopened.stats().sessions;
reopened.close();
if (dropped.join() !== String(oldest) || left !== sessions - removed) {
  throw new Error(`retain dropped ${dropped.join()} and left ${left} of ${sessions} sessions`);
}

process.stdout.write(
  `day query: 30 days out of a year of ${fmt(sessions)} sessions (${fmt(ourRows)} rows read)\n`,
);
row(['', 'ms (median of 5)', 'per day', 'vs baseline']);
row([
  'baseline: plain overlap query, no decrypt',
  fmt(baseline, 1),
  fmt(baseline / 30, 2),
  '1.00x',
]);
row([
  'journal.sessions(): span index + pseudonyms',
  fmt(ours, 1),
  fmt(ours / 30, 2),
  `${fmt(ours / baseline, 2)}x`,
]);

process.stdout.write(
  `\nremoving the oldest year (${oldest}: ${fmt(removed)} of ${fmt(sessions)} sessions)\n`,
);
row(['', 'ms', '', 'vs baseline']);
row(['baseline: DELETE from one table of all years', fmt(deleteTime, 1), '', '1.00x']);
row([
  'journal.retain(): DROP TABLE of the year',
  fmt(dropTime, 1),
  '',
  `${fmt(dropTime / deleteTime, 2)}x`,
]);
