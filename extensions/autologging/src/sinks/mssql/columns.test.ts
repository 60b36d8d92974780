import { describe, expect, it } from 'vitest';
import { RowError, TABLES, parseType, tableSpec, toTargetRow } from './columns.ts';
import { driverType } from './mssql-sink.ts';
import { createStageSql, mergeSql } from './statements.ts';

const events = tableSpec('events')!;
const sessions = tableSpec('sessions')!;
const runs = tableSpec('runs')!;

const eventRow = (overrides: Record<string, unknown> = {}) => ({
  id: '0123456789abcdef0123456789abcdef',
  source: 'demo',
  natural_key: 'k',
  rev: 7,
  key_version: 1,
  type: 'logon',
  at: Date.UTC(2028, 1, 29, 23, 59, 59, 999),
  user_enc: new Uint8Array([1, 2, 3]),
  user_idx: 'f'.repeat(32),
  domain: 'CORP',
  machine: null,
  session_key: null,
  client_name_enc: null,
  client_name_idx: null,
  client_address_enc: null,
  client_address_idx: null,
  code: null,
  detail: null,
  captured_at: Date.UTC(2029, 0, 1),
  ...overrides,
});

describe('toTargetRow', () => {
  it('keeps the UTC instant to the millisecond on a leap day and at a year end', () => {
    const row = toTargetRow(events, eventRow(), 'agent');
    expect((row.at as Date).toISOString()).toBe('2028-02-29T23:59:59.999Z');
    expect((row.captured_at as Date).toISOString()).toBe('2029-01-01T00:00:00.000Z');
  });

  it('keeps ciphertext as binary and the blind index as text', () => {
    const row = toTargetRow(events, eventRow(), 'agent');
    expect(row.user_enc).toEqual(Buffer.from([1, 2, 3]));
    expect(row.user_idx).toBe('f'.repeat(32));
  });

  it('cuts text longer than its column, never inside a surrogate pair, and says so', () => {
    const cut: string[] = [];
    const long = 'a'.repeat(1999) + '😀' + 'b';
    const row = toTargetRow(events, eventRow({ detail: long }), 'agent', (c) => cut.push(c));
    expect(row.detail).toBe('a'.repeat(1999));
    expect(cut).toEqual(['detail']);
  });

  it('refuses to cut an identity column', () => {
    expect(() => toTargetRow(events, eventRow({ id: 'x'.repeat(33) }), 'agent')).toThrow(RowError);
  });

  it('refuses a missing NOT NULL value, naming table, column and record', () => {
    expect(() => toTargetRow(events, eventRow({ type: null }), 'agent')).toThrow(
      /events\.type of record 0123456789abcdef0123456789abcdef/,
    );
  });

  it('fills the agent and maps a run’s fields to their columns', () => {
    const row = toTargetRow(
      runs,
      {
        id: 42,
        job: 'capture:demo',
        kind: 'capture',
        source: 'demo',
        trigger: 'catch-up',
        startedAt: Date.UTC(2026, 0, 1),
        endedAt: null,
        recordsIn: 3,
        recordsNew: 2,
        recordsUpdated: 1,
        outcome: 'ok',
        errorCode: null,
        errorMessage: null,
      },
      'vda-logger-1',
    );
    expect(row).toMatchObject({
      agent: 'vda-logger-1',
      run_id: 42,
      triggered_by: 'catch-up',
      records_updated: 1,
      ended_at: null,
    });
  });

  it('refuses a time that is not a number', () => {
    expect(() => toTargetRow(events, eventRow({ at: 'yesterday' }), 'a')).toThrow(RowError);
  });
});

describe('table specs', () => {
  it.each(TABLES.map((t) => [t.table, t] as const))(
    '%s has its time and identity among its columns, NOT NULL',
    (_name, spec) => {
      const names = spec.columns.map((c) => c.name);
      for (const c of [spec.time, ...spec.identity]) {
        expect(names).toContain(c);
        expect(spec.columns.find((x) => x.name === c)!.nullable).toBe(false);
      }
      expect(new Set(names).size).toBe(names.length);
    },
  );

  it('has a driver type for every column type', () => {
    for (const spec of TABLES)
      for (const c of spec.columns) expect(driverType(c.type)).toBeTruthy();
  });

  it.each([
    ['nvarchar(256)', { base: 'nvarchar', length: 256 }],
    ['varbinary(max)', { base: 'varbinary', length: -1 }],
    ['datetime2(3)', { base: 'datetime2', length: null }],
    ['bigint', { base: 'bigint', length: null }],
  ])('parses %s', (type, parsed) => {
    expect(parseType(type)).toEqual(parsed);
  });
});

describe('merge statements', () => {
  it('replace a stored session only when the incoming one is newer, never its id', () => {
    const sql = mergeSql(sessions);
    expect(sql).toMatch(/UPDATE t SET /);
    expect(sql).not.toMatch(/t\.\[id\] = s\.\[id\],/);
    expect(sql).toContain('t.[span_start] = s.[span_start]');
    expect(sql).toContain('s.updated_at > t.updated_at');
    expect(sql).toContain(
      'WHERE NOT EXISTS (SELECT 1 FROM autologging.sessions AS t WHERE t.[id] = s.[id])',
    );
  });

  it('insert an event once, found by id and time, and never update it', () => {
    const sql = mergeSql(events);
    expect(sql).not.toContain('UPDATE');
    expect(sql).toContain('t.[id] = s.[id] AND t.[at] = s.[at]');
    expect(sql).toContain('DROP TABLE #stage_events;');
  });

  it('stage into a fresh temporary table shaped as the target', () => {
    expect(createStageSql(events)).toBe(
      "IF OBJECT_ID(N'tempdb..#stage_events') IS NOT NULL DROP TABLE #stage_events;\n" +
        `SELECT TOP (0) ${events.columns.map((c) => `[${c.name}]`).join(', ')} ` +
        'INTO #stage_events FROM autologging.events;',
    );
  });
});
