// Reading one day's sessions for its workbook out of a year of history: the journal's span
// index (start bounded by the longest session seen, open sessions by a partial index) against
// the plain overlap query a first version would write.
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Journal } from '../extensions/autologging/src/journal/journal.ts';
import { DemoSite } from '../extensions/autologging/src/sources/demo/generator.ts';
import { demoSource } from '../extensions/autologging/src/sources/demo/index.ts';
import { addDays, dayRange } from '../extensions/autologging/src/time.ts';
import { benchCipher, benchDir, fmt, median, row } from './support.ts';

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
