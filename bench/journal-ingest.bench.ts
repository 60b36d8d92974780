// Journal ingest: a week of a 1,000-user simulated site, stored one transaction per day as the
// agent does, against the floor of plain SQLite inserts of the same rows without encryption.
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Journal } from '../extensions/autologging/src/journal/journal.ts';
import type { CaptureRecord } from '../extensions/autologging/src/records.ts';
import { DemoSite } from '../extensions/autologging/src/sources/demo/generator.ts';
import { demoSource } from '../extensions/autologging/src/sources/demo/index.ts';
import { benchCipher, benchDir, fmt, row, time } from './support.ts';

const site = new DemoSite(demoSource.options.parse({ users: 1000, machines: 120 }), 'Asia/Seoul');
const until = Date.UTC(2026, 10, 30);
const batches: CaptureRecord[][] = [];
for (const day of site.days(until - 7 * 86_400_000, until))
  batches.push([...day.sessions, ...day.events]);
const total = batches.reduce((n, b) => n + b.length, 0);

const dir = benchDir('ingest');
const journal = Journal.open(path.join(dir, 'journal.db'), benchCipher(dir));
const ours = await time(() => {
  for (const batch of batches) journal.applyCapture('demo', batch, null);
});
const again = await time(() => {
  for (const batch of batches) journal.applyCapture('demo', batch, null);
});
const stored = journal.stats();
journal.close();

// Baseline: the same rows, plain text, no identity hash, no change detection, one transaction.
const plain = new DatabaseSync(path.join(dir, 'plain.db'));
plain.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
  CREATE TABLE rows (key TEXT PRIMARY KEY, kind TEXT, body TEXT)`);
const insert = plain.prepare('INSERT OR REPLACE INTO rows VALUES (?, ?, ?)');
const baseline = await time(() => {
  for (const batch of batches) {
    plain.exec('BEGIN');
    for (const r of batch) insert.run(r.key, r.kind, JSON.stringify(r));
    plain.exec('COMMIT');
  }
});
plain.close();

process.stdout.write(
  `journal ingest: ${fmt(total)} records (${stored.sessions} sessions, ${stored.events} events), 7 days, 1,000 users\n`,
);
row(['', 'ms', 'records/s', 'vs baseline']);
row([
  'baseline: plain SQLite, no encryption',
  fmt(baseline),
  fmt(total / (baseline / 1000)),
  '1.00x',
]);
row([
  'journal: encrypted, indexed, first capture',
  fmt(ours),
  fmt(total / (ours / 1000)),
  `${fmt(ours / baseline, 2)}x`,
]);
row([
  'journal: same window again (all unchanged)',
  fmt(again),
  fmt(total / (again / 1000)),
  `${fmt(again / baseline, 2)}x`,
]);
