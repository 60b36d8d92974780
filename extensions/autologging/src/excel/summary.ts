import type { SessionRow } from '../journal/rows.ts';
import { dayRange } from '../time.ts';

const HOUR_MS = 3_600_000;

/** Figures of one delivery group. */
export interface GroupSummary {
  /** `null` for sessions whose delivery group is unknown. */
  deliveryGroup: string | null;
  /** Sessions other than `Failed` ones. */
  sessions: number;
  /** Distinct non-null users among those sessions. */
  users: number;
  /** Mean logon duration in seconds of those sessions that report one; `null` when none do. */
  averageLogonSeconds: number | null;
  /** Sessions that failed: state `Failed` or a failure code. */
  failures: number;
}

/** Peak concurrency within one real hour of the local day. */
export interface HourSummary {
  /** Epoch ms of the hour's first instant. */
  start: number;
  /** Epoch ms just after the hour; the day's end for a short last hour. */
  end: number;
  /** Most sessions open at the same instant within `[start, end)`. */
  peakConcurrent: number;
}

/** How many sessions failed for one reason. */
export interface FailureSummary {
  code: number | null;
  reason: string | null;
  count: number;
}

/** What the Summary sheet shows for one day. */
export interface DaySummary {
  day: string;
  timeZone: string;
  totals: {
    sessions: number;
    users: number;
    failures: number;
    peakConcurrent: number;
    averageLogonSeconds: number | null;
  };
  /** Sorted by name; the unknown group last. */
  groups: GroupSummary[];
  /** Every real hour of the day: 23 or 25 on a DST change. */
  hours: HourSummary[];
  /** Most frequent first, then by code and reason. */
  failures: FailureSummary[];
}

interface GroupTally {
  sessions: number;
  users: Set<string>;
  logonMsTotal: number;
  logonCount: number;
  failures: number;
}

/**
 * Builds a day's summary from sessions seen one at a time, keeping only counters, the distinct
 * users, and one start/end pair per non-failed session that overlaps the day (16 bytes each),
 * so a day of 100,000 sessions stays small.
 *
 * A session is open during `[startAt, endAt ?? end of day)`, clipped to the day; `Failed`
 * sessions and sessions without a start are left out of concurrency. A failure is a session
 * in state `Failed` or with a failure code.
 */
export class DaySummarizer {
  readonly day: string;
  readonly timeZone: string;
  private readonly range: { start: number; end: number };
  private readonly groups = new Map<string | null, GroupTally>();
  private readonly users = new Set<string>();
  private readonly failures = new Map<string, FailureSummary>();
  private starts = new Float64Array(1024);
  private ends = new Float64Array(1024);
  private intervals = 0;

  /** Throws `RangeError` when `day` is not a calendar day `YYYY-MM-DD`. */
  constructor(day: string, timeZone: string) {
    this.day = day;
    this.timeZone = timeZone;
    this.range = dayRange(day, timeZone);
  }

  /** Counts one session. */
  add(session: SessionRow): void {
    const group = this.group(session.deliveryGroup);
    const failed = session.state === 'Failed';

    if (failed || session.failureCode !== null) {
      group.failures++;
      this.countFailure(session.failureCode, session.failureReason);
    }
    if (failed) return;

    group.sessions++;
    if (session.user !== null) {
      group.users.add(session.user);
      this.users.add(session.user);
    }
    const logon = session.logonDurationMs;
    if (logon !== null && Number.isFinite(logon) && logon >= 0) {
      group.logonMsTotal += logon;
      group.logonCount++;
    }
    this.addInterval(session.startAt, session.endAt);
  }

  /** The summary of everything added so far. */
  finish(): DaySummary {
    const hours = this.peaksByHour();
    const groups = [...this.groups.entries()]
      .sort(([a], [b]) => compareGroups(a, b))
      .map(([deliveryGroup, t]): GroupSummary => ({
        deliveryGroup,
        sessions: t.sessions,
        users: t.users.size,
        averageLogonSeconds: average(t.logonMsTotal, t.logonCount),
        failures: t.failures,
      }));

    let sessions = 0;
    let failures = 0;
    let logonMsTotal = 0;
    let logonCount = 0;
    for (const t of this.groups.values()) {
      sessions += t.sessions;
      failures += t.failures;
      logonMsTotal += t.logonMsTotal;
      logonCount += t.logonCount;
    }

    return {
      day: this.day,
      timeZone: this.timeZone,
      totals: {
        sessions,
        users: this.users.size,
        failures,
        peakConcurrent: hours.reduce((peak, h) => Math.max(peak, h.peakConcurrent), 0),
        averageLogonSeconds: average(logonMsTotal, logonCount),
      },
      groups,
      hours,
      failures: [...this.failures.values()].sort(compareFailures),
    };
  }

  private group(name: string | null): GroupTally {
    let tally = this.groups.get(name);
    if (!tally) {
      tally = { sessions: 0, users: new Set(), logonMsTotal: 0, logonCount: 0, failures: 0 };
      this.groups.set(name, tally);
    }
    return tally;
  }

  private countFailure(code: number | null, reason: string | null): void {
    const key = `${code ?? ''}\u0000${reason ?? ''}`;
    const entry = this.failures.get(key);
    if (entry) entry.count++;
    else this.failures.set(key, { code, reason, count: 1 });
  }

  private addInterval(startAt: number | null, endAt: number | null): void {
    if (startAt === null || !Number.isFinite(startAt)) return;
    const start = Math.max(startAt, this.range.start);
    const end = Math.min(endAt ?? this.range.end, this.range.end);
    if (!(end > start)) return;

    if (this.intervals === this.starts.length) {
      this.starts = grow(this.starts);
      this.ends = grow(this.ends);
    }
    this.starts[this.intervals] = start;
    this.ends[this.intervals] = end;
    this.intervals++;
  }

  /**
   * A sweep over the sorted starts and ends. The count only rises at a start, so an hour's
   * peak is the count at its first instant or just after one of its starts. At equal times
   * ends are applied before the count is read, because intervals are half-open.
   */
  private peaksByHour(): HourSummary[] {
    const starts = this.starts.slice(0, this.intervals).sort();
    const ends = this.ends.slice(0, this.intervals).sort();
    let i = 0;
    let j = 0;
    let open = 0;
    const advanceTo = (t: number): void => {
      while (j < ends.length && ends[j]! <= t) {
        open--;
        j++;
      }
      while (i < starts.length && starts[i]! <= t) {
        open++;
        i++;
      }
    };

    const hours: HourSummary[] = [];
    for (let start = this.range.start; start < this.range.end; start += HOUR_MS) {
      const end = Math.min(start + HOUR_MS, this.range.end);
      advanceTo(start);
      let peak = open;
      for (;;) {
        const next = Math.min(starts[i] ?? Infinity, ends[j] ?? Infinity);
        if (next >= end) break;
        advanceTo(next);
        peak = Math.max(peak, open);
      }
      hours.push({ start, end, peakConcurrent: peak });
    }
    return hours;
  }
}

/**
 * Summarises the sessions of `day` (`YYYY-MM-DD` in `timeZone`); see `DaySummarizer` for the
 * rules. Throws `RangeError` on a malformed day.
 */
export function summarizeDay(
  sessions: Iterable<SessionRow>,
  day: string,
  timeZone: string,
): DaySummary {
  const summarizer = new DaySummarizer(day, timeZone);
  for (const session of sessions) summarizer.add(session);
  return summarizer.finish();
}

function grow(array: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const bigger = new Float64Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

function average(total: number, count: number): number | null {
  return count === 0 ? null : total / count / 1000;
}

function compareGroups(a: string | null, b: string | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  return a.localeCompare(b);
}

function compareFailures(a: FailureSummary, b: FailureSummary): number {
  return (
    b.count - a.count ||
    (a.code ?? Infinity) - (b.code ?? Infinity) ||
    (a.reason ?? '').localeCompare(b.reason ?? '')
  );
}
