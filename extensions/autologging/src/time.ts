/**
 * Time-zone arithmetic on epoch milliseconds, with the IANA zones that `Intl` knows.
 * Everything stored is UTC; zones matter only for schedules, day boundaries and display.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Wall-clock fields of an instant in a zone. `month` is 1-12; `weekday` 0 = Sunday. */
export interface ZonedParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

/** The system's IANA time zone. */
export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** True when `Intl` knows the zone name. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Wall-clock fields of `ms` in `timeZone`. */
export function zonedParts(ms: number, timeZone: string): ZonedParts {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = parts;
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  return { year, month, day, hour, minute, second, weekday };
}

/** Offset of `timeZone` from UTC at instant `ms`, in milliseconds (Seoul: +9 h). */
export function zoneOffset(ms: number, timeZone: string): number {
  const p = zonedParts(ms, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `timeZone` shows the given fields. In a DST gap the
 * instant after the gap is returned; in an overlap, the earlier of the two.
 */
export function zonedTime(
  timeZone: string,
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const before = zoneOffset(wall - 86_400_000, timeZone);
  const after = zoneOffset(wall + 86_400_000, timeZone);
  const valid = [wall - before, wall - after].filter((t) => wall - zoneOffset(t, timeZone) === t);
  // Two valid instants: an overlap, take the earlier. None: a gap, whose wall times are read
  // with the offset from before the change, which lands just after the gap.
  return valid.length ? Math.min(...valid) : wall - before;
}

/** A calendar day `YYYY-MM-DD`, checked. */
export function parseDay(text: string): { year: number; month: number; day: number } | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const d = new Date(Date.UTC(year, month - 1, day));
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) {
    return null;
  }
  return { year, month, day };
}

/** `[start, end)` in epoch ms of the calendar day `YYYY-MM-DD` in `timeZone`. */
export function dayRange(day: string, timeZone: string): { start: number; end: number } {
  const d = parseDay(day);
  if (!d) throw new RangeError(`not a calendar day: ${JSON.stringify(day)}`);
  const next = new Date(Date.UTC(d.year, d.month - 1, d.day + 1));
  return {
    start: zonedTime(timeZone, d.year, d.month, d.day),
    end: zonedTime(timeZone, next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate()),
  };
}

/** The calendar day `YYYY-MM-DD` that `ms` falls on in `timeZone`. */
export function dayOf(ms: number, timeZone: string): string {
  const p = zonedParts(ms, timeZone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

/** The day after (or `n` days after) `day`. */
export function addDays(day: string, n: number): string {
  const d = parseDay(day);
  if (!d) throw new RangeError(`not a calendar day: ${JSON.stringify(day)}`);
  return new Date(Date.UTC(d.year, d.month - 1, d.day + n)).toISOString().slice(0, 10);
}

/** Every day from `from` to `to`, both included. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) days.push(d);
  return days;
}

/**
 * A `Date` whose UTC fields equal the wall clock of `ms` in `timeZone`. Excel has no time
 * zones: a cell shows a date's UTC fields, so this is how a local time is written to it.
 */
export function wallClockDate(ms: number, timeZone: string): Date {
  return new Date(ms + zoneOffset(ms, timeZone));
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
