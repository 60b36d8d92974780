// A busy day's workbook (20,000 sessions, 60,000 events): the agent's streamed writer against
// exceljs's in-memory workbook writing the same rows. Each runs in its own process so that
// peak memory is its own.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { writeDailyWorkbook } from '../extensions/autologging/src/excel/workbook.ts';
import type { EventRow, SessionRow } from '../extensions/autologging/src/journal/rows.ts';
import { session, event } from '../tests/support/records.ts';
import { benchDir, fmt, row, time } from './support.ts';

const SESSIONS = 20_000;
const EVENTS = 60_000;
const day = Date.UTC(2026, 11, 2, 15);

function* sessions(): Generator<SessionRow> {
  for (let i = 0; i < SESSIONS; i++) {
    const start = day + (i % 600) * 60_000;
    const { kind: _, ...s } = session({
      key: `s${i}`,
      startAt: start,
      endAt: start + 8 * 3_600_000,
      state: 'Terminated',
      user: `U-${(i % 5000).toString(16).padStart(8, '0')}`,
    });
    yield { ...s, id: `id${i}`, source: 'demo' };
  }
}
function* events(): Generator<EventRow> {
  for (let i = 0; i < EVENTS; i++) {
    const { kind: _, ...e } = event({ key: `e${i}`, at: day + (i % 1400) * 60_000 });
    yield { ...e, id: `ev${i}`, source: 'demo' };
  }
}

const mode = process.argv[2];
if (mode) {
  const file = path.join(benchDir('excel'), 'day.xlsx');
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const ms = await time(async () => {
    if (mode === 'streamed') {
      await writeDailyWorkbook({
        file,
        day: '2026-12-03',
        timeZone: 'Asia/Seoul',
        sessions: sessions(),
        events: events(),
        hostLoad: [],
      });
    } else {
      const wb = new ExcelJS.Workbook();
      const s = wb.addWorksheet('Sessions');
      for (const r of sessions()) s.addRow(Object.values(r));
      const e = wb.addWorksheet('Events');
      for (const r of events()) e.addRow(Object.values(r));
      await wb.xlsx.writeFile(file);
    }
  });
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  process.stdout.write(JSON.stringify({ ms, peakMiB: peak / 2 ** 20 }));
} else {
  const run = (m: string) =>
    JSON.parse(execFileSync(process.execPath, [import.meta.filename, m], { encoding: 'utf8' })) as {
      ms: number;
      peakMiB: number;
    };
  const baseline = run('in-memory');
  const ours = run('streamed');
  process.stdout.write(
    `excel export: ${fmt(SESSIONS)} sessions + ${fmt(EVENTS)} events in one day's workbook\n`,
  );
  row(['', 'ms', 'peak RSS MiB', 'time vs baseline']);
  row(['baseline: exceljs in-memory workbook', fmt(baseline.ms), fmt(baseline.peakMiB), '1.00x']);
  row([
    'agent: streamed, styled, with Summary',
    fmt(ours.ms),
    fmt(ours.peakMiB),
    `${fmt(ours.ms / baseline.ms, 2)}x`,
  ]);
}
