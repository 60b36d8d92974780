import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import {
  decodeFailure,
  decodeSession,
  FieldProblem,
  formatODataDate,
  MAX_TEXT,
  parseODataDate,
  readPage,
} from './decode.ts';
import { maskPersonal } from '../shared/diagnose.ts';
import { sessionFailureName } from './enums.ts';

const testdata = (name: string) =>
  JSON.parse(readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8')) as unknown;

const GROUPS = new Map([
  ['d6000000-0000-4000-8000-000000000001', 'Office Desktop'],
  ['d6000000-0000-4000-8000-000000000003', 'Call Center Apps'],
]);

function sessionRow(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const page = readPage(testdata('sessions-page.json'));
  const row = { ...(page.rows[0] as Record<string, unknown>), ...overrides };
  for (const [key, value] of Object.entries(overrides)) if (value === undefined) delete row[key];
  return row;
}

function failureRow(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Id: 7,
    SessionKey: 'c0ffee00-1234-4abc-9def-000000000003',
    FailureDate: '2024-12-02T00:00:00Z',
    ModifiedDate: '2024-12-02T00:00:02Z',
    ConnectionFailureEnumValue: 4,
    User: { UserName: 'seo.park', Domain: 'CORP', FullName: '박서연' },
    Machine: { Name: 'CORP\\VDA-OD-004', DesktopGroupId: null },
    Session: { CurrentConnection: { ClientName: 'TC-20931', ClientAddress: '203.0.113.7' } },
    ...overrides,
  };
}

describe('OData dates', () => {
  it.each([
    ['2024-12-01T00:00:00Z', Date.UTC(2024, 11, 1)],
    ['2024-12-01T00:00:00.1234567Z', Date.UTC(2024, 11, 1, 0, 0, 0, 123)],
    ['2024-12-01T09:30:00', Date.UTC(2024, 11, 1, 9, 30)],
    ['2024-12-01T09:30', Date.UTC(2024, 11, 1, 9, 30)],
    ['2024-12-01T09:00:00+09:00', Date.UTC(2024, 11, 1)],
    ['2024-11-30T19:00:00-05:00', Date.UTC(2024, 11, 1)],
  ])('reads %s as UTC', (text, expected) => {
    expect(parseODataDate(text)).toBe(expected);
  });

  it.each([
    '',
    'yesterday',
    '2024-02-30T00:00:00Z',
    '2024-12-01 00:00:00Z',
    '2024-12-01T24:00:00Z',
    '2024-12-01T00:00:00+15:00',
    '1899-12-31T00:00:00Z',
    "datetime'2024-12-01T00:00:00'",
  ])('refuses %j', (text) => {
    expect(parseODataDate(text)).toBeNull();
  });

  it('writes an unquoted UTC literal, with milliseconds only when there are some', () => {
    expect(formatODataDate(Date.UTC(2024, 11, 1))).toBe('2024-12-01T00:00:00Z');
    expect(formatODataDate(Date.UTC(2024, 11, 1, 0, 0, 0, 5))).toBe('2024-12-01T00:00:00.005Z');
  });
});

describe('readPage', () => {
  it('reads the rows, the next link and the count', () => {
    const page = readPage(testdata('sessions-page.json'));
    expect(page.rows).toHaveLength(3);
    expect(page.nextLink).toMatch(/\$skip=3$/);
    expect(page.count).toBeNull();
  });

  it.each([
    [[], 'the response'],
    [{ values: [] }, 'value'],
    [{ value: {} }, 'value'],
    [{ value: [], '@odata.nextLink': 5 }, '@odata.nextLink'],
    [{ value: [], '@odata.count': '5' }, '@odata.count'],
  ])('refuses the envelope %j, naming %s', (body, field) => {
    expect(() => readPage(body)).toThrow(FieldProblem);
    try {
      readPage(body);
    } catch (error) {
      expect((error as FieldProblem).field).toBe(field);
    }
  });
});

describe('decodeSession', () => {
  it('reads the sample page into the expected records', () => {
    const page = readPage(testdata('sessions-page.json'));
    const decoded = page.rows.map((row) => decodeSession(row, GROUPS, () => undefined));
    expect(decoded.map((d) => (d.ok ? d.record : d))).toEqual(
      testdata('sessions-page.expected.json'),
    );
    expect(decoded.map((d) => d.modifiedAt)).toEqual([
      Date.UTC(2024, 11, 2, 3, 1, 0, 250),
      Date.UTC(2024, 11, 2, 18, 5, 31),
      Date.UTC(2024, 11, 2, 0, 0, 2),
    ]);
  });

  it('splits DOMAIN\\name, and takes a bare name with its Domain field', () => {
    const withDomain = decodeSession(sessionRow(), GROUPS, () => undefined);
    const bare = decodeSession(
      sessionRow({ User: { UserName: 'minjun.kim', Domain: 'CORP' } }),
      GROUPS,
      () => undefined,
    );
    for (const d of [withDomain, bare]) {
      expect(d).toMatchObject({ ok: true, record: { user: 'minjun.kim', domain: 'CORP' } });
    }
  });

  it('records an unknown ConnectionState as Unknown and says so once per code', () => {
    const unknown = vi.fn();
    const decoded = decodeSession(sessionRow({ ConnectionState: 42 }), GROUPS, unknown);
    expect(decoded).toMatchObject({ ok: true, record: { state: 'Unknown' } });
    expect(unknown).toHaveBeenCalledWith('ConnectionState', 42);
  });

  it('leaves the delivery group empty when the machine’s group is not known', () => {
    const decoded = decodeSession(sessionRow(), new Map(), () => undefined);
    expect(decoded).toMatchObject({ ok: true, record: { deliveryGroup: null } });
  });

  it.each([
    ['StartDate', { StartDate: 'yesterday' }, /is not a date/],
    ['StartDate', { StartDate: 1733098323123 }, /must be a date, not a whole number/],
    ['ConnectionState', { ConnectionState: '5' }, /must be a whole number, not text/],
    ['ConnectionState', { ConnectionState: 5.5 }, /not a fraction/],
    ['LogOnDuration', { LogOnDuration: -1 }, /at least 0/],
    ['SessionKey', { SessionKey: 'not-a-guid' }, /must be a GUID/],
    ['SessionKey', { SessionKey: undefined }, /is missing/],
    ['ModifiedDate', { ModifiedDate: null }, /is null/],
    ['EndDate', { EndDate: undefined }, /is missing/],
    ['User', { User: 'CORP\\minjun.kim' }, /is text, not an object/],
    ['User.UserName', { User: { UserName: ['a'] } }, /must be text, not a list/],
    ['User.FullName', { User: { FullName: 'x'.repeat(MAX_TEXT + 1) } }, /longer than 512/],
    ['CurrentConnection.ClientName', { CurrentConnection: { ClientName: 7 } }, /must be text/],
    ['Machine.DesktopGroupId', { Machine: { DesktopGroupId: 'group-1' } }, /must be a GUID/],
    [
      'Failure.ConnectionFailureEnumValue',
      { Failure: { ConnectionFailureEnumValue: null } },
      /null/,
    ],
  ])(
    'rejects a row with a bad %s, naming the field and never the value',
    (field, change, reason) => {
      const decoded = decodeSession(sessionRow(change), GROUPS, () => undefined);
      expect(decoded.ok).toBe(false);
      if (decoded.ok) return;
      expect(decoded.field).toBe(field);
      expect(decoded.reason).toMatch(reason);
      for (const value of Object.values(change)) {
        if (typeof value === 'string' && value.length > 3) {
          expect(decoded.reason).not.toContain(value.slice(0, 20));
        }
      }
    },
  );

  it('keeps the ModifiedDate and key of a rejected row for the cursor and the message', () => {
    const decoded = decodeSession(sessionRow({ StartDate: 'soon' }), GROUPS, () => undefined);
    expect(decoded).toMatchObject({
      ok: false,
      key: '6f1c2a8e-8d3b-4c1e-9a57-0b6f8e2d4c11',
      modifiedAt: Date.UTC(2024, 11, 2, 3, 1, 0, 250),
    });
  });

  it('masks the personal fields of a sample and nothing else', () => {
    const decoded = decodeSession(sessionRow(), GROUPS, () => undefined);
    if (!decoded.ok) throw new Error('sample row should decode');
    expect(maskPersonal(decoded.record)).toEqual({
      ...decoded.record,
      user: '***',
      fullName: '***',
      clientName: '***',
      clientAddress: '***',
    });
  });
});

describe('decodeFailure', () => {
  it('makes a failure event keyed by session and time, with the decoded reason', () => {
    const decoded = decodeFailure(failureRow());
    expect(decoded).toEqual({
      ok: true,
      modifiedAt: Date.UTC(2024, 11, 2, 0, 0, 2),
      record: {
        kind: 'event',
        key: `c0ffee00-1234-4abc-9def-000000000003:failure:${Date.UTC(2024, 11, 2)}`,
        type: 'failure',
        at: Date.UTC(2024, 11, 2),
        user: 'seo.park',
        domain: 'CORP',
        machine: 'CORP\\VDA-OD-004',
        sessionKey: 'c0ffee00-1234-4abc-9def-000000000003',
        clientName: 'TC-20931',
        clientAddress: '203.0.113.7',
        code: 4,
        detail: 'ConnectionTimeout',
      },
    });
  });

  it('names a code it does not know by its number', () => {
    const decoded = decodeFailure(failureRow({ ConnectionFailureEnumValue: 13 }));
    expect(decoded).toMatchObject({
      ok: true,
      record: { code: 13, detail: 'SessionFailureCode 13' },
    });
    expect(sessionFailureName(101)).toBe('MachineNotFunctional');
  });

  it.each([
    [{ FailureDate: null }, 'FailureDate'],
    [{ ConnectionFailureEnumValue: 'ConnectionTimeout' }, 'ConnectionFailureEnumValue'],
    [
      { Session: { CurrentConnection: { ClientAddress: {} } } },
      'Session.CurrentConnection.ClientAddress',
    ],
  ])('rejects %j, naming %s', (change, field) => {
    expect(decodeFailure(failureRow(change))).toMatchObject({ ok: false, field });
  });
});
