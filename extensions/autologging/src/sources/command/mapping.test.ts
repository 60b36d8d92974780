import { describe, expect, it } from 'vitest';
import { readDate, splitAccount } from '../shared/values.ts';
import { mapRow } from './mapping.ts';
import type { Mapping } from './mapping.ts';

const seoul = 'Asia/Seoul';

describe('readDate', () => {
  it.each<[unknown, number | undefined]>([
    [1719446712123, 1719446712123],
    ['1719446712123', 1719446712123],
    ['/Date(1719446712123)/', 1719446712123],
    ['2024-06-27T00:05:12.123Z', Date.UTC(2024, 5, 27, 0, 5, 12, 123)],
    ['2024-06-27T09:05:12+09:00', Date.UTC(2024, 5, 27, 0, 5, 12)],
    ['2024-06-27 09:05:12.123', Date.UTC(2024, 5, 27, 0, 5, 12, 123)],
    ['2024-06-27 09:05', Date.UTC(2024, 5, 27, 0, 5)],
    ['2024-06-27', Date.UTC(2024, 5, 26, 15)],
    ['2024-06-31 09:05', undefined],
    ['27/06/2024 09:05', undefined],
    [-5, undefined],
    [1.5, undefined],
    [true, undefined],
  ])('reads %j', (raw, expected) => {
    expect(readDate(raw, seoul)).toBe(expected);
  });
});

describe('mapRow', () => {
  const mapping: Mapping = {
    record: 'event',
    fields: { key: 'id', type: 'kind', at: 'when', user: 'who', code: 'code' },
    values: { machine: 'HZ-CS01' },
    timeZone: seoul,
  };

  it('fills unmapped fields with null, and fixed values where given', () => {
    expect(
      mapRow({ id: 7, kind: 'Logon', when: 1000, who: 'CORP\\a', code: '12' }, mapping),
    ).toEqual({
      record: {
        kind: 'event',
        key: '7',
        type: 'logon',
        at: 1000,
        user: 'a',
        domain: 'CORP',
        machine: 'HZ-CS01',
        sessionKey: null,
        clientName: null,
        clientAddress: null,
        code: 12,
        detail: null,
      },
    });
  });

  it('names the field and column of a bad value, never the value', () => {
    const row = { id: 7, kind: 'logon', when: 1000, who: { name: 'secret' }, code: 1 };
    expect(mapRow(row, mapping)).toEqual({ problem: 'field user (column who) is not text' });
    expect(mapRow({ ...row, who: 'a', code: 'twelve' }, mapping)).toEqual({
      problem: 'field code (column code) is not a whole number',
    });
  });

  it('rejects a row whose required field is empty', () => {
    expect(mapRow({ id: '', kind: 'logon', when: 1000 }, mapping)).toEqual({
      problem: 'field key (column id) is empty',
    });
  });

  it('skips a row whose type the types map leaves out', () => {
    const typed = { ...mapping, types: { CONNECTED: 'logon' as const } };
    expect(mapRow({ id: 1, kind: 'HEARTBEAT', when: 1000 }, typed)).toEqual({ record: null });
  });
});

describe('splitAccount', () => {
  it.each([
    ['CORP\\minjun.kim', { domain: 'CORP', user: 'minjun.kim' }],
    ['minjun.kim@corp.example.com', { domain: 'corp.example.com', user: 'minjun.kim' }],
    ['minjun.kim', { domain: null, user: 'minjun.kim' }],
  ])('splits %s', (account, expected) => {
    expect(splitAccount(account)).toEqual(expected);
  });
});
