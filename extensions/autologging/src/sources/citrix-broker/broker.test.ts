import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../records.ts';
import { BrokerOutputError, readBrokerDate, readBrokerSessions } from './broker.ts';
import type { BrokerItem } from './broker.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

const seoul = { timeZone: 'Asia/Seoul' };
const records = (items: BrokerItem[]) =>
  items.flatMap((i) => ('record' in i ? [i.record] : [])) as SessionRecord[];

const MINJUN: SessionRecord = {
  kind: 'session',
  key: '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
  user: 'minjun.kim',
  domain: 'CORP',
  fullName: '김민준',
  machine: 'CORP\\VDA-OD-001',
  deliveryGroup: 'Office Desktop',
  clientName: 'KR-LT-04821',
  clientAddress: '10.20.1.15',
  clientVersion: '24.2.0.65',
  protocol: 'HDX',
  sessionType: 'desktop',
  startAt: Date.UTC(2024, 5, 27, 0, 5, 12, 123),
  endAt: null,
  logonDurationMs: null,
  state: 'Active',
  stateChangedAt: Date.UTC(2024, 5, 27, 0, 5, 40),
  failureCode: null,
  failureReason: null,
};

describe('readBrokerSessions', () => {
  it('reads Windows PowerShell 5.1 output with \\/Date(ms)\\/ dates', () => {
    const read = records(readBrokerSessions(fixture('get-brokersession-ps51.txt'), seoul));

    expect(read[0]).toEqual(MINJUN);
    expect(read.map((r) => [r.user, r.sessionType, r.state])).toEqual([
      ['minjun.kim', 'desktop', 'Active'],
      ['james.miller', 'application', 'Disconnected'],
      [null, 'desktop', 'PreparingSession'],
    ]);
  });

  it('reads PowerShell 7 output with ISO dates, with or without an offset', () => {
    const ps7 = records(readBrokerSessions(fixture('get-brokersession-ps7.txt'), seoul));
    const ps51 = records(readBrokerSessions(fixture('get-brokersession-ps51.txt'), seoul));

    expect(ps7).toEqual(ps51);
  });

  it('reads a single session written as an object rather than an array', () => {
    expect(records(readBrokerSessions(fixture('get-brokersession-single.txt'), seoul))).toEqual([
      MINJUN,
    ]);
  });

  it('reads a date PowerShell 5.1 wrapped with its display form', () => {
    const [read] = records(
      readBrokerSessions(fixture('get-brokersession-wrapped-date.txt'), seoul),
    );
    expect(read?.startAt).toBe(MINJUN.startAt);
  });

  it('falls back to the brokering time when a session has not started', () => {
    const read = records(readBrokerSessions(fixture('get-brokersession-ps51.txt'), seoul));
    expect(read[2]?.startAt).toBe(Date.UTC(2024, 5, 27, 5, 59, 58));
    expect(read[2]).toMatchObject({ user: null, domain: null, clientName: null });
  });

  it('gives nothing for empty output', () => {
    expect(readBrokerSessions('\r\n', seoul)).toEqual([]);
    expect(readBrokerSessions('\uFEFF', seoul)).toEqual([]);
  });

  it('returns damaged sessions as problems naming the field, and keeps the others', () => {
    const items = readBrokerSessions(fixture('get-brokersession-bad.txt'), seoul);

    expect(items.map((i) => ('problem' in i ? i.problem : 'ok'))).toEqual([
      'ok',
      'field StartTime is not a date',
      'field SessionKey is missing or not a GUID',
      'field UserName is longer than 256 characters',
      'ok',
      'ok',
    ]);
    expect(JSON.stringify(items.filter((i) => 'problem' in i))).not.toMatch(/secret|hidden|xxx/);
  });

  it('records an unknown state as Other and says which', () => {
    const text = fixture('get-brokersession-single.txt').replace('"Active"', '"Hibernating"');
    const unknown: string[] = [];
    const [read] = records(
      readBrokerSessions(text, { ...seoul, onUnknownState: (n) => unknown.push(n) }),
    );

    expect(read?.state).toBe('Other');
    expect(unknown).toEqual(['Hibernating']);
  });

  it('rejects a state written as a number', () => {
    const text = fixture('get-brokersession-single.txt').replace('"Active"', '3');
    expect(readBrokerSessions(text, seoul)).toEqual([
      { problem: 'field SessionState is not text' },
    ]);
  });

  it('fails on output that is not JSON without repeating it', () => {
    const text = 'Get-BrokerSession : Insufficient administrative privilege for CORP\\minjun.kim';
    expect(() => readBrokerSessions(text, seoul)).toThrow(BrokerOutputError);
    expect(() => readBrokerSessions(text, seoul)).not.toThrow(/minjun/);
    expect(() => readBrokerSessions('42', seoul)).toThrow(BrokerOutputError);
  });
});

describe('readBrokerDate', () => {
  it.each<[unknown, number | null | undefined]>([
    ['/Date(1574202819000)/', 1574202819000],
    ['/Date(1574202819000+0900)/', 1574202819000],
    ['2019-11-19T22:33:39Z', Date.UTC(2019, 10, 19, 22, 33, 39)],
    ['2019-11-20T07:33:39.5+09:00', Date.UTC(2019, 10, 19, 22, 33, 39, 500)],
    ['2019-11-20T07:33:39', Date.UTC(2019, 10, 19, 22, 33, 39)],
    [{ value: '/Date(1574202819000)/', DisplayHint: 2 }, 1574202819000],
    [null, null],
    ['', null],
    ['2019-02-30T07:33:39', undefined],
    ['/Date(soon)/', undefined],
    [1574202819000, undefined],
  ])('reads %j', (value, expected) => {
    expect(readBrokerDate(value, 'Asia/Seoul')).toBe(expected);
  });
});
