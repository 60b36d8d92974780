import { describe, expect, it } from 'vitest';
import { rowBytes, splitIntoBatches } from './batching.ts';

/** Items are their own sizes, so a case reads as the sizes it batches. */
const sizes = (items: number[], maxRecords: number, maxBytes: number) =>
  splitIntoBatches(items, { maxRecords, maxBytes }, (n) => n);

describe('splitIntoBatches', () => {
  const cases: Array<
    [name: string, items: number[], records: number, bytes: number, out: number[][]]
  > = [
    ['makes no batch of nothing', [], 3, 100, []],
    ['keeps a small set in one batch', [1, 2, 3], 10, 100, [[1, 2, 3]]],
    [
      'cuts by count, exactly at the limit',
      [1, 1, 1, 1, 1, 1],
      3,
      100,
      [
        [1, 1, 1],
        [1, 1, 1],
      ],
    ],
    ['leaves the rest in a last, smaller batch', [1, 1, 1, 1], 3, 100, [[1, 1, 1], [1]]],
    [
      'cuts by bytes, a batch filling the limit exactly',
      [4, 6, 5, 5],
      10,
      10,
      [
        [4, 6],
        [5, 5],
      ],
    ],
    ['cuts by bytes one byte over the limit', [5, 6, 5], 10, 10, [[5], [6], [5]]],
    ['sends an item larger than the limit alone', [1, 50, 1], 10, 10, [[1], [50], [1]]],
    ['sends large items one by one', [50, 60], 10, 10, [[50], [60]]],
    ['takes whichever limit comes first', [2, 2, 2, 2, 2], 2, 5, [[2, 2], [2, 2], [2]]],
    ['batches one by one with a limit of one record', [1, 2, 3], 1, 100, [[1], [2], [3]]],
    ['counts empty items against the record limit only', [0, 0, 0], 2, 1, [[0, 0], [0]]],
  ];

  it.each(cases)('%s', (_name, items, records, bytes, out) => {
    expect(sizes(items, records, bytes)).toEqual(out);
  });

  it('keeps every item, in order, whatever the limits', () => {
    const items = Array.from({ length: 97 }, (_, i) => (i * 37) % 23);
    for (let records = 1; records <= 12; records++) {
      for (const bytes of [1, 5, 22, 23, 24, 60, 1000]) {
        const batches = sizes(items, records, bytes);
        expect(batches.flat()).toEqual(items);
        for (const batch of batches) {
          expect(batch.length).toBeLessThanOrEqual(records);
          const total = batch.reduce((a, b) => a + b, 0);
          if (batch.length > 1) expect(total).toBeLessThanOrEqual(bytes);
        }
      }
    }
  });

  it('refuses limits below one', () => {
    expect(() => sizes([1], 0, 10)).toThrow(RangeError);
    expect(() => sizes([1], 1, 0)).toThrow(RangeError);
    expect(() => sizes([1], Number.NaN, 10)).toThrow(RangeError);
  });

  it('batches journal changes on both sides of a year end and a leap day in revision order', () => {
    const changes = [
      Date.UTC(2027, 11, 31, 23, 59, 59, 999),
      Date.UTC(2028, 0, 1),
      Date.UTC(2028, 1, 29, 12),
      Date.UTC(2028, 2, 1),
      Date.UTC(2028, 11, 31, 23, 59, 59, 999),
      Date.UTC(2029, 0, 1),
    ].map((at, i) => ({ rev: i + 1, row: { id: 'x'.repeat(32), at } }));
    const batches = splitIntoBatches(changes, { maxRecords: 4, maxBytes: 1e6 }, (c) =>
      rowBytes(c.row),
    );
    expect(batches.map((b) => b.map((c) => c.rev))).toEqual([
      [1, 2, 3, 4],
      [5, 6],
    ]);
  });
});

describe('rowBytes', () => {
  it('counts text as UTF-16, binary as is, numbers and times as 8, plus 4 a column', () => {
    expect(rowBytes({})).toBe(0);
    expect(rowBytes({ a: 'abc' })).toBe(4 + 6);
    expect(rowBytes({ a: new Uint8Array(10) })).toBe(4 + 10);
    expect(rowBytes({ a: 1, b: 2n, c: new Date(0) })).toBe(3 * (4 + 8));
    expect(rowBytes({ a: null, b: true })).toBe(4 + 4 + 1);
  });
});
