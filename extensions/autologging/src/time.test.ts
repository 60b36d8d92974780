import { describe, expect, it } from 'vitest';
import {
  addDays,
  dayOf,
  dayRange,
  daysBetween,
  isValidTimeZone,
  parseDay,
  wallClockDate,
  zonedParts,
  zonedTime,
} from './time.ts';

describe('time zones', () => {
  it('reads the wall clock of an instant in Seoul and New York', () => {
    const at = Date.UTC(2026, 11, 3, 15, 30);
    expect(zonedParts(at, 'Asia/Seoul')).toMatchObject({
      year: 2026,
      month: 12,
      day: 4,
      hour: 0,
      minute: 30,
    });
    expect(zonedParts(at, 'America/New_York')).toMatchObject({ day: 3, hour: 10, minute: 30 });
  });

  it('finds the instant of a wall-clock time, also across a DST change', () => {
    expect(zonedTime('Asia/Seoul', 2026, 12, 4, 9)).toBe(Date.UTC(2026, 11, 4, 0));
    expect(zonedTime('America/New_York', 2026, 7, 1, 9)).toBe(Date.UTC(2026, 6, 1, 13));
    expect(zonedTime('America/New_York', 2026, 1, 15, 9)).toBe(Date.UTC(2026, 0, 15, 14));
    // 02:30 does not exist on 8 March 2026 in New York: the instant after the gap is used.
    const gap = zonedTime('America/New_York', 2026, 3, 8, 2, 30);
    expect(zonedParts(gap, 'America/New_York').hour).toBe(3);
    // 01:30 happens twice on 1 November 2026 in New York: the earlier one is used.
    expect(zonedTime('America/New_York', 2026, 11, 1, 1, 30)).toBe(Date.UTC(2026, 10, 1, 5, 30));
  });

  it('gives days of 24, 23 and 25 hours', () => {
    const hours = (day: string, tz: string) => {
      const r = dayRange(day, tz);
      return (r.end - r.start) / 3_600_000;
    };
    expect(hours('2026-12-03', 'Asia/Seoul')).toBe(24);
    expect(hours('2026-03-08', 'America/New_York')).toBe(23);
    expect(hours('2026-11-01', 'America/New_York')).toBe(25);
    expect(dayRange('2026-12-03', 'Asia/Seoul').start).toBe(Date.UTC(2026, 11, 2, 15));
  });

  it('names the day of an instant and walks days across month and leap-year ends', () => {
    expect(dayOf(Date.UTC(2026, 11, 3, 15), 'Asia/Seoul')).toBe('2026-12-04');
    expect(dayOf(Date.UTC(2026, 11, 3, 15), 'UTC')).toBe('2026-12-03');
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(addDays('2027-02-28', 1)).toBe('2027-03-01');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(daysBetween('2026-12-30', '2027-01-02')).toEqual([
      '2026-12-30',
      '2026-12-31',
      '2027-01-01',
      '2027-01-02',
    ]);
  });

  it('rejects days that do not exist and zones Intl does not know', () => {
    expect(parseDay('2026-02-29')).toBeNull();
    expect(parseDay('2028-02-29')).toEqual({ year: 2028, month: 2, day: 29 });
    expect(parseDay('2026-1-5')).toBeNull();
    expect(isValidTimeZone('Asia/Seoul')).toBe(true);
    expect(isValidTimeZone('Asia/Busan')).toBe(false);
  });

  it('makes a Date whose UTC fields show the local wall clock, for Excel', () => {
    const d = wallClockDate(Date.UTC(2026, 11, 3, 0, 30), 'Asia/Seoul');
    expect(d.toISOString()).toBe('2026-12-03T09:30:00.000Z');
  });
});
