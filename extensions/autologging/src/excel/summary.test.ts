import { describe, expect, it } from 'vitest';
import type { SessionRow } from '../journal/rows.ts';
import { dayRange } from '../time.ts';
import { DaySummarizer, summarizeDay } from './summary.ts';

const DAY = '2026-12-03';
const ZONE = 'Asia/Seoul';

/** Epoch ms of a Seoul wall-clock time on DAY (or `dayOffset` days from it). */
function seoul(hour: number, minute = 0, dayOffset = 0): number {
  return Date.UTC(2026, 11, 3 + dayOffset, hour - 9, minute);
}

function session(fields: Partial<SessionRow>): SessionRow {
  return {
    id: `id-${fields.key ?? 'x'}`,
    source: 'citrix',
    key: 'x',
    user: 'U-00000001',
    domain: 'CORP',
    fullName: null,
    machine: 'CORP\\VDA01',
    deliveryGroup: 'Desktops',
    clientName: null,
    clientAddress: null,
    clientVersion: null,
    protocol: 'HDX',
    sessionType: 'desktop',
    startAt: null,
    endAt: null,
    logonDurationMs: null,
    state: 'Terminated',
    stateChangedAt: null,
    failureCode: null,
    failureReason: null,
    ...fields,
  };
}

function peaks(sessions: SessionRow[]): Map<number, number> {
  const summary = summarizeDay(sessions, DAY, ZONE);
  return new Map(summary.hours.map((h, i) => [i, h.peakConcurrent]));
}

describe('summarizeDay', () => {
  it('finds the peak within an hour by a sweep', () => {
    const hours = peaks([
      session({ key: 'a', startAt: seoul(9, 10), endAt: seoul(9, 50) }),
      session({ key: 'b', startAt: seoul(9, 30), endAt: seoul(10, 20) }),
      session({ key: 'c', startAt: seoul(9, 45), endAt: seoul(10, 5) }),
    ]);

    expect(hours.get(8)).toBe(0);
    expect(hours.get(9)).toBe(3);
    expect(hours.get(10)).toBe(2);
    expect(hours.get(11)).toBe(0);
  });

  it('does not count a session ending as another starts as overlapping', () => {
    const hours = peaks([
      session({ key: 'a', startAt: seoul(9, 0), endAt: seoul(9, 30) }),
      session({ key: 'b', startAt: seoul(9, 30), endAt: seoul(10, 0) }),
    ]);

    expect(hours.get(9)).toBe(1);
    expect(hours.get(10)).toBe(0);
  });

  it('counts an ongoing session until the end of the day', () => {
    const hours = peaks([session({ key: 'a', startAt: seoul(22, 15), endAt: null })]);

    expect(hours.get(21)).toBe(0);
    expect(hours.get(22)).toBe(1);
    expect(hours.get(23)).toBe(1);
  });

  it('clips a session that started the day before', () => {
    const hours = peaks([session({ key: 'a', startAt: seoul(23, 0, -1), endAt: seoul(1, 30) })]);

    expect(hours.get(0)).toBe(1);
    expect(hours.get(1)).toBe(1);
    expect(hours.get(2)).toBe(0);
  });

  it('leaves failed, zero-length and startless sessions out of concurrency', () => {
    const hours = peaks([
      session({ key: 'a', startAt: seoul(9, 0), endAt: seoul(10, 0), state: 'Failed' }),
      session({ key: 'b', startAt: seoul(9, 0), endAt: seoul(9, 0) }),
      session({ key: 'c', startAt: null, endAt: seoul(9, 30) }),
    ]);

    expect([...hours.values()].every((peak) => peak === 0)).toBe(true);
  });

  it('counts failures by reason, and sessions and users without failed sessions', () => {
    const summary = summarizeDay(
      [
        session({ key: 'a', user: 'U-A', startAt: seoul(9), logonDurationMs: 10_000 }),
        session({ key: 'b', user: 'U-A', startAt: seoul(10), logonDurationMs: 20_000 }),
        session({ key: 'c', user: 'U-B', deliveryGroup: null, startAt: seoul(11) }),
        session({ key: 'd', user: 'U-C', state: 'Failed', failureCode: 100, failureReason: 'X' }),
        session({ key: 'e', user: 'U-C', state: 'Failed', failureCode: 100, failureReason: 'X' }),
        session({ key: 'f', user: 'U-D', failureCode: 4, failureReason: 'Y', startAt: seoul(12) }),
      ],
      DAY,
      ZONE,
    );

    expect(summary.totals).toEqual({
      sessions: 4,
      users: 3,
      failures: 3,
      // All four are still open at 12:00.
      peakConcurrent: 4,
      averageLogonSeconds: 15,
    });
    expect(summary.failures).toEqual([
      { code: 100, reason: 'X', count: 2 },
      { code: 4, reason: 'Y', count: 1 },
    ]);
    expect(summary.groups.map((g) => [g.deliveryGroup, g.sessions, g.users, g.failures])).toEqual([
      ['Desktops', 3, 2, 3],
      [null, 1, 1, 0],
    ]);
  });

  it('gives every real hour of a DST day', () => {
    expect(summarizeDay([], '2026-03-08', 'America/New_York').hours).toHaveLength(23);
    expect(summarizeDay([], '2026-11-01', 'America/New_York').hours).toHaveLength(25);
  });

  it('cuts the last hour short on a day of 23 and a half hours', () => {
    const { hours } = summarizeDay([], '2026-10-04', 'Australia/Lord_Howe');
    const last = hours.at(-1)!;

    expect(hours).toHaveLength(24);
    expect(last.end - last.start).toBe(30 * 60_000);
    expect(last.end).toBe(dayRange('2026-10-04', 'Australia/Lord_Howe').end);
  });

  it('grows past its first block of intervals', () => {
    const summarizer = new DaySummarizer(DAY, ZONE);
    for (let i = 0; i < 5000; i++) {
      summarizer.add(session({ key: `k${i}`, startAt: seoul(8), endAt: seoul(8, 30) }));
    }

    expect(summarizer.finish().totals.peakConcurrent).toBe(5000);
  });
});
