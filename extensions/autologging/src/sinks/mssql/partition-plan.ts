/**
 * Which yearly partition boundaries maintenance adds and removes. Pure: no clock, no I/O.
 *
 * The partition function is RANGE RIGHT on `datetime2(3)` in UTC with one boundary on
 * 1 January 00:00 of each year, so partition `[b(n), b(n+1))` holds one calendar year. Two
 * rules keep maintenance from ever moving rows:
 *
 * - Boundaries are only added at the right end, and only up to two years ahead, so the
 *   partition being split (the last one) is still empty: next year's boundary exists while
 *   next year's partition is empty, and there is always an empty partition after it.
 * - Years are only removed from the left end: the partitions before the lowest kept
 *   boundary are emptied with TRUNCATE, then the boundaries below it are merged, each merge
 *   joining two empty partitions.
 */

/** The shortest retention allowed, in whole years before the current one. */
export const MIN_RETENTION_YEARS = 3;

/** How many years ahead of the current one boundaries are kept. */
export const YEARS_AHEAD = 2;

/** What maintenance should do at one moment. Times are epoch ms, UTC. */
export interface PartitionPlan {
  /** 1 January of the oldest year kept; every row before it is older than the retention. */
  keepFrom: number;
  /** Boundaries to add, ascending; each splits the (empty) last partition. */
  split: number[];
  /**
   * The lowest boundary to keep: rows before it are removed (their partitions truncated).
   * The highest existing boundary at or before `keepFrom`; null when there is none.
   */
  clearBefore: number | null;
  /** Boundaries below `clearBefore` to merge away once their partitions are empty, ascending. */
  merge: number[];
}

/** 1 January 00:00 UTC of `year`, as epoch ms. */
export function yearStart(year: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, 0, 1);
  return date.getTime();
}

/** The UTC calendar year of an epoch-ms instant. */
export function yearOf(time: number): number {
  return new Date(time).getUTCFullYear();
}

/**
 * The plan for `now` given the function's existing `boundaries` (epoch ms, any order) and a
 * retention of `retentionYears` whole years before the current one (at least 3).
 *
 * Boundaries to add: 1 January of every year after the highest existing boundary, up to two
 * years after the current one (with no boundary at all: next year and the one after).
 * Retention: at `now` in year Y, rows from 1 January of Y − `retentionYears` on are kept, so at
 * least `retentionYears` full years always remain; `clearBefore` is the highest boundary at or
 * before that day and `merge` every boundary below it.
 *
 * Throws `RangeError` when `retentionYears` is not a whole number of at least 3 or `now` or
 * a boundary is not a finite time.
 */
export function planPartitions(
  boundaries: readonly number[],
  now: number,
  retentionYears: number,
): PartitionPlan {
  if (!Number.isInteger(retentionYears) || retentionYears < MIN_RETENTION_YEARS) {
    throw new RangeError(
      `retention must be a whole number of at least ${MIN_RETENTION_YEARS} years, ` +
        `not ${retentionYears}`,
    );
  }
  if (!Number.isFinite(now)) throw new RangeError(`now must be a finite time, not ${now}`);
  if (!boundaries.every(Number.isFinite)) throw new RangeError('boundaries must be finite times');

  const sorted = [...new Set(boundaries)].sort((a, b) => a - b);
  const year = yearOf(now);
  const last = sorted.at(-1);

  const split: number[] = [];
  for (let y = last === undefined ? year + 1 : yearOf(last) + 1; y <= year + YEARS_AHEAD; y++) {
    split.push(yearStart(y));
  }

  const keepFrom = yearStart(year - retentionYears);
  const atOrBefore = sorted.filter((b) => b <= keepFrom);
  const clearBefore = atOrBefore.at(-1) ?? null;
  const merge = clearBefore === null ? [] : sorted.filter((b) => b < clearBefore);
  return { keepFrom, split, clearBefore, merge };
}
