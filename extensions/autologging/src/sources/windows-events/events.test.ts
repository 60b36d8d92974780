import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EventRecord } from '../../records.ts';
import { LSM_LOG, SECURITY_LOG, readBatch, readSystemTime, splitEvents } from './events.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

const recordsOf = (text: string, log: Parameters<typeof readBatch>[1]) =>
  readBatch(text, log)
    .items.map((item) => ('record' in item ? item.record : null))
    .filter((r): r is EventRecord => r !== null);

describe('readBatch for the LocalSessionManager log', () => {
  const records = recordsOf(fixture('wevtutil-lsm.xml'), LSM_LOG);

  it('maps event 21 to a logon with the account split into domain and user', () => {
    expect(records[0]).toEqual({
      kind: 'event',
      key: `vda01.corp.example.com/lsm/1001/${Date.UTC(2024, 5, 27, 0, 5, 12, 438)}`,
      type: 'logon',
      at: Date.UTC(2024, 5, 27, 0, 5, 12, 438),
      user: 'minjun.kim',
      domain: 'CORP',
      machine: 'VDA01.corp.example.com',
      sessionKey: 'VDA01.corp.example.com/session/3',
      clientName: null,
      clientAddress: '10.20.1.15',
      code: null,
      detail: 'session 3',
    });
  });

  it('maps 23, 24, 40, 25 and 39 to logoff, disconnect, disconnect, reconnect, disconnect', () => {
    expect(records.map((r) => [r.type, r.user, r.clientAddress, r.code])).toEqual([
      ['logon', 'minjun.kim', '10.20.1.15', null],
      ['logoff', 'james.miller', null, null],
      ['disconnect', 'minjun.kim', '10.20.1.15', null],
      ['disconnect', null, null, 5],
      ['reconnect', 'minjun.kim', '10.20.7.99', null],
      ['disconnect', null, null, null],
      ['logon', 'Administrator', null, null],
    ]);
  });

  it('decodes the reason of event 40 and names both sessions of event 39', () => {
    expect(records[3]?.detail).toBe('session 3: another connection took over the session');
    expect(records[5]?.detail).toBe('session 3 disconnected by session 5');
    expect(records[5]?.sessionKey).toBe('VDA01.corp.example.com/session/3');
  });

  it('records a console logon (Address LOCAL) without a client address', () => {
    expect(records[6]).toMatchObject({
      domain: 'VDA01',
      clientAddress: null,
      detail: 'session 1 at the console',
    });
  });

  it('keeps good events around damaged ones, in order, with record ids', () => {
    const { items } = readBatch(fixture('wevtutil-lsm-bad.xml'), LSM_LOG);

    expect(items.map((i) => [i.recordId, 'problem' in i ? 'problem' : 'record'])).toEqual([
      [2001, 'record'],
      [2002, 'problem'],
      [2003, 'record'],
      [2004, 'problem'],
      [2005, 'record'],
    ]);
    const problems = items.flatMap((i) => ('problem' in i ? [i.problem] : []));
    expect(problems).toEqual([
      '(EventID 24) field SessionID is not a whole number',
      expect.stringContaining('is not well-formed XML'),
    ]);
    expect(JSON.stringify(problems)).not.toMatch(/secret\.person|hidden\.user|10\.99/);
  });

  it('rejects a user name too long to be one, without repeating it', () => {
    const long = 'x'.repeat(300);
    const text = fixture('wevtutil-lsm.xml').replace('CORP\\minjun.kim', `CORP\\${long}`);
    const [first] = readBatch(text, LSM_LOG).items;

    expect(first).toMatchObject({ recordId: 1001, problem: expect.stringContaining('User') });
    expect(JSON.stringify(first)).not.toContain(long);
  });

  it('rejects an event whose User is missing', () => {
    const text = fixture('wevtutil-lsm.xml').replace('<User>CORP\\minjun.kim</User>', '');
    expect(readBatch(text, LSM_LOG).items[0]).toMatchObject({
      problem: '(EventID 21) field User is missing',
    });
  });

  it('rejects an event whose time is not a valid date', () => {
    const text = fixture('wevtutil-lsm.xml').replace('2024-06-27T00:05:12', '2024-02-30T00:05:12');
    expect(readBatch(text, LSM_LOG).items[0]).toMatchObject({
      recordId: 1001,
      problem: 'has no valid TimeCreated SystemTime',
    });
  });

  it('decodes XML entities in values', () => {
    const text = fixture('wevtutil-lsm.xml').replace(
      'CORP\\minjun.kim',
      'CORP\\o&apos;brien&amp;co',
    );
    expect(recordsOf(text, LSM_LOG)[0]?.user).toBe("o'brien&co");
  });
});

describe('readBatch for the Security log', () => {
  const records = recordsOf(fixture('wevtutil-security.xml'), SECURITY_LOG);

  it('keeps remote logons and logoffs (type 10) and skips the others', () => {
    expect(records.map((r) => [r.key.split('/')[2], r.type])).toEqual([
      ['58001', 'logon'],
      ['58003', 'reconnect'],
      ['58004', 'disconnect'],
      ['58005', 'logoff'],
      ['58006', 'logoff'],
    ]);
  });

  it('maps 4624 with the client workstation and address, paired by logon id', () => {
    expect(records[0]).toMatchObject({
      key: `vda01.corp.example.com/security/58001/${Date.UTC(2024, 5, 27, 0, 5, 10, 100)}`,
      user: 'minjun.kim',
      domain: 'CORP',
      clientName: 'KR-LT-04821',
      clientAddress: '10.20.1.15',
      sessionKey: 'VDA01.corp.example.com/logon/0x1a2b3c',
      detail: 'logon type 10 (RemoteInteractive)',
    });
    expect(records[4]?.sessionKey).toBe(records[0]?.sessionKey);
  });

  it('maps 4778 and 4779 with client name, address and session name', () => {
    expect(records[1]).toMatchObject({
      type: 'reconnect',
      user: 'minjun.kim',
      clientName: 'KR-LT-04821',
      clientAddress: '10.20.7.99',
      detail: 'session RDP-Tcp#3',
    });
    expect(records[2]).toMatchObject({ type: 'disconnect', clientAddress: '10.20.1.15' });
  });

  it('still advances over skipped logons: they are read, not rejected', () => {
    const { items } = readBatch(fixture('wevtutil-security.xml'), SECURITY_LOG);
    expect(items.every((i) => !('problem' in i))).toBe(true);
    expect(items.map((i) => i.recordId)).toEqual([58001, 58002, 58003, 58004, 58005, 58006, 58007]);
  });
});

describe('splitEvents', () => {
  it('finds events printed back to back, one per line or spread over lines', () => {
    expect(splitEvents(fixture('wevtutil-lsm-bad.xml')).chunks).toHaveLength(5);
    expect(splitEvents(fixture('wevtutil-security.xml')).chunks).toHaveLength(7);
  });

  it('notices text outside the events and a last event cut short', () => {
    const cut = fixture('wevtutil-lsm.xml').slice(0, -40);
    expect(splitEvents(`Warning: something\r\n${cut}`)).toMatchObject({ stray: true });
    const { items } = readBatch(cut, LSM_LOG);
    expect(items[items.length - 1]).toMatchObject({ recordId: 1007, problem: expect.any(String) });
  });

  it('gives nothing for empty output', () => {
    expect(readBatch('\r\n', LSM_LOG)).toEqual({ items: [], stray: false });
  });
});

describe('readSystemTime', () => {
  it.each<[string, number | null]>([
    ['2024-06-27T00:05:12.4387523Z', Date.UTC(2024, 5, 27, 0, 5, 12, 438)],
    ['2024-06-27T00:05:12.438752300Z', Date.UTC(2024, 5, 27, 0, 5, 12, 438)],
    ['2024-06-27T00:05:12Z', Date.UTC(2024, 5, 27, 0, 5, 12)],
    ['2024-06-27T00:05:12.4', null],
    ['2024-13-01T00:00:00Z', null],
    ['yesterday', null],
  ])('reads %s', (text, expected) => {
    expect(readSystemTime(text)).toBe(expected);
  });
});
