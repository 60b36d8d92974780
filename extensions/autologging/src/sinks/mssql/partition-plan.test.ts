import { describe, expect, it } from 'vitest';
import { planPartitions, yearOf, yearStart, YEARS_AHEAD } from './partition-plan.ts';

const at = (iso: string) => Date.parse(iso);
const years = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => yearStart(from + i));
const asYears = (times: readonly number[]) => times.map((t) => new Date(t).toISOString());
const iso = (year: number) => new Date(yearStart(year)).toISOString();

describe('planPartitions', () => {
  const cases: Array<{
    name: string;
    now: string;
    boundaries: number[];
    retention?: number;
    split: number[];
    clearBefore: number | null;
    merge: number[];
  }> = [
    {
      name: 'at the last millisecond of a year, next years are already there: nothing to add',
      now: '2026-12-31T23:59:59.999Z',
      boundaries: years(2023, 2028),
      split: [],
      clearBefore: 2023,
      merge: [],
    },
    {
      name: 'at the first millisecond of a year, the year after next is added and one year goes',
      now: '2027-01-01T00:00:00.000Z',
      boundaries: years(2023, 2028),
      split: [2029],
      clearBefore: 2024,
      merge: [2023],
    },
    {
      name: 'on a leap day the plan is that of its year',
      now: '2028-02-29T12:00:00.000Z',
      boundaries: years(2024, 2030),
      split: [],
      clearBefore: 2025,
      merge: [2024],
    },
    {
      name: 'the day after a leap day changes nothing',
      now: '2028-03-01T00:00:00.000Z',
      boundaries: years(2025, 2030),
      split: [],
      clearBefore: 2025,
      merge: [],
    },
    {
      name: 'the last millisecond of a leap year still keeps its three years',
      now: '2028-12-31T23:59:59.999Z',
      boundaries: years(2025, 2030),
      split: [],
      clearBefore: 2025,
      merge: [],
    },
    {
      name: 'the year after a leap year adds one year and removes one',
      now: '2029-01-01T00:00:00.000Z',
      boundaries: years(2025, 2030),
      split: [2031],
      clearBefore: 2026,
      merge: [2025],
    },
    {
      name: 'New Year in Seoul is still the old year in UTC',
      now: '2026-12-31T15:00:00.000Z',
      boundaries: years(2023, 2028),
      split: [],
      clearBefore: 2023,
      merge: [],
    },
    {
      name: 'a longer retention keeps the oldest years',
      now: '2027-01-01T00:00:00.000Z',
      boundaries: years(2023, 2028),
      retention: 5,
      split: [2029],
      clearBefore: null,
      merge: [],
    },
    {
      name: 'with no boundary at all, next year and the one after are added',
      now: '2026-06-15T08:00:00.000Z',
      boundaries: [],
      split: [2027, 2028],
      clearBefore: null,
      merge: [],
    },
    {
      name: 'after years without maintenance, every missing year is planned',
      now: '2027-05-01T00:00:00.000Z',
      boundaries: years(2020, 2024),
      split: [2025, 2026, 2027, 2028, 2029],
      clearBefore: 2024,
      merge: [2020, 2021, 2022, 2023],
    },
    {
      name: 'boundaries in any order and repeated give the same plan',
      now: '2027-01-01T00:00:00.000Z',
      boundaries: [...years(2023, 2028)].reverse().concat(yearStart(2025)),
      split: [2029],
      clearBefore: 2024,
      merge: [2023],
    },
    {
      name: 'boundaries beyond two years ahead are left as they are',
      now: '2026-03-01T00:00:00.000Z',
      boundaries: years(2023, 2031),
      split: [],
      clearBefore: 2023,
      merge: [],
    },
  ];

  it.each(cases)('$name', (c) => {
    const plan = planPartitions(c.boundaries, at(c.now), c.retention ?? 3);
    expect(asYears(plan.split)).toEqual(c.split.map(iso));
    expect(plan.clearBefore === null ? null : new Date(plan.clearBefore).toISOString()).toBe(
      c.clearBefore === null ? null : iso(c.clearBefore),
    );
    expect(asYears(plan.merge)).toEqual(c.merge.map(iso));
  });

  it('adds after a boundary that is not on 1 January from the next 1 January', () => {
    const plan = planPartitions([at('2025-07-01T00:00:00Z')], at('2026-03-01T00:00:00Z'), 3);
    expect(asYears(plan.split)).toEqual([iso(2026), iso(2027), iso(2028)]);
  });

  it.each([2, 0, -1, 3.5, Number.NaN])('refuses a retention of %s years', (retention) => {
    expect(() => planPartitions([], at('2026-01-01T00:00:00Z'), retention)).toThrow(RangeError);
  });

  it('refuses a time that is not finite', () => {
    expect(() => planPartitions([], Number.NaN, 3)).toThrow(RangeError);
    expect(() => planPartitions([Number.POSITIVE_INFINITY], 0, 3)).toThrow(RangeError);
  });

  it('knows 1 January of years before 100 and leap years', () => {
    expect(new Date(yearStart(2028)).toISOString()).toBe('2028-01-01T00:00:00.000Z');
    expect(new Date(yearStart(50)).getUTCFullYear()).toBe(50);
    expect(yearOf(at('2028-12-31T23:59:59.999Z'))).toBe(2028);
    expect(yearOf(at('2029-01-01T00:00:00.000Z'))).toBe(2029);
  });
});

/**
 * A yearly-partitioned store whose rows arrive up to "now", maintained every `every` days
 * from 2024 to 2044. Splits are refused, as `autologging.split_year` refuses them, when rows
 * already lie in the new partition. Returns the broken rules, if any: a split not at the
 * right end, a removal inside the retention, a missing boundary ahead, too much removed.
 */
function simulate(retention: number, every: number) {
  const DAY = 86_400_000;
  const start = at('2024-01-01T00:00:00Z');
  let boundaries = years(2021, 2026);
  let oldestRow = at('2010-01-01T00:00:00Z');
  const refused: number[] = [];
  const broken = new Set<string>();
  for (let now = start; now < at('2045-01-01T00:00:00Z'); now += DAY) {
    if (((now - start) / DAY) % every !== 0) continue;
    const plan = planPartitions(boundaries, now, retention);
    for (const b of plan.split) {
      if (b <= (boundaries.at(-1) ?? -Infinity)) broken.add('split not at the right end');
      if (b <= now) refused.push(b);
      else boundaries = [...boundaries, b];
    }
    if (plan.clearBefore !== null) {
      const limit = new Date(now);
      limit.setUTCFullYear(limit.getUTCFullYear() - retention);
      if (plan.clearBefore > limit.getTime()) broken.add('removed rows inside the retention');
      if (!plan.merge.every((b) => b < plan.clearBefore!)) broken.add('merged a kept boundary');
      boundaries = boundaries.filter((b) => b >= plan.clearBefore!);
      oldestRow = Math.max(oldestRow, plan.clearBefore);
    }
    const year = yearOf(now);
    for (let y = year + 1; every <= 365 && y <= year + YEARS_AHEAD; y++) {
      if (!boundaries.includes(yearStart(y))) broken.add('a year ahead is missing');
    }
    if (oldestRow > yearStart(year - retention + 1)) broken.add('removed too much');
  }
  return { boundaries, refused, broken: [...broken] };
}

describe('partition maintenance over twenty years', () => {
  it.each([3, 4, 7])(
    'run daily with %s years of retention, it never moves or loses a row',
    (retention) => {
      const { boundaries, refused, broken } = simulate(retention, 1);
      expect(broken).toEqual([]);
      expect(refused).toEqual([]);
      expect(boundaries.length).toBe(retention + 1 + YEARS_AHEAD);
    },
  );

  it.each([40, 200, 365])('run every %s days, it still never needs to move a row', (every) => {
    expect(simulate(3, every)).toMatchObject({ broken: [], refused: [] });
  });

  it('run only every 800 days, it refuses the years that already hold rows', () => {
    const { refused, broken } = simulate(3, 800);
    expect(broken).toEqual([]);
    expect(refused.length).toBeGreaterThan(0);
  });
});
