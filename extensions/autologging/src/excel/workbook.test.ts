import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AbortedError, ExportError } from '../errors.ts';
import type { EventRow, HostLoadRow, SessionRow } from '../journal/rows.ts';
import { writeDailyWorkbook, type DailyWorkbookInput } from './workbook.ts';

const DAY = '2026-12-03';
const ZONE = 'Asia/Seoul';
const GENERATED_AT = Date.UTC(2026, 11, 4, 1, 0, 0);

/** Epoch ms of a Seoul wall-clock time on DAY (or `dayOffset` days from it). */
function seoul(hour: number, minute = 0, dayOffset = 0): number {
  return Date.UTC(2026, 11, 3 + dayOffset, hour - 9, minute);
}

function session(fields: Partial<SessionRow> & { key: string }): SessionRow {
  return {
    id: `id-${fields.key}`,
    source: 'citrix',
    user: 'U-00000001',
    domain: 'CORP',
    fullName: null,
    machine: 'CORP\\VDA01',
    deliveryGroup: 'Desktops',
    clientName: 'C-5E6F7A8B',
    clientAddress: 'A-9C0D1E2F',
    clientVersion: '24.2.0.1',
    protocol: 'HDX',
    sessionType: 'desktop',
    startAt: null,
    endAt: null,
    logonDurationMs: null,
    state: 'Terminated',
    stateChangedAt: null,
    failureCode: null,
    failureReason: null,
    ...fields,
  };
}

const SESSIONS: SessionRow[] = [
  session({
    key: 'k-overnight',
    user: 'U-AAAA0001',
    startAt: seoul(23, 0, -1),
    endAt: seoul(1, 30),
    logonDurationMs: 10_000,
  }),
  session({
    key: 'k-a',
    user: 'U-BBBB0002',
    startAt: seoul(9, 10),
    endAt: seoul(9, 50),
    logonDurationMs: 20_000,
  }),
  // 09:30 in Seoul is 00:30 UTC.
  session({
    key: 'k-b',
    user: 'U-CCCC0003',
    deliveryGroup: 'Apps',
    sessionType: 'application',
    startAt: Date.UTC(2026, 11, 3, 0, 30),
    endAt: seoul(10, 20),
    logonDurationMs: 5_500,
  }),
  session({
    key: 'k-c',
    user: 'U-BBBB0002',
    deliveryGroup: 'Apps',
    startAt: seoul(9, 45),
    endAt: seoul(10, 5),
  }),
  session({
    key: 'k-failed',
    user: 'U-DDDD0004',
    deliveryGroup: 'Apps',
    startAt: seoul(9, 40),
    state: 'Failed',
    failureCode: 100,
    failureReason: 'NoMachineAvailable',
  }),
  session({
    key: 'k-ongoing',
    user: 'U-AAAA0001',
    fullName: '홍길동',
    startAt: seoul(22, 0),
    endAt: null,
    logonDurationMs: 30_000,
    state: 'Active',
  }),
  session({
    key: 'k-dropped',
    user: 'U-EEEE0005',
    deliveryGroup: null,
    startAt: seoul(12, 0),
    endAt: seoul(12, 30),
    failureCode: 4,
    failureReason: 'ConnectionTimeout',
  }),
  session({
    key: 'k-failed-2',
    user: 'U-FFFF0006',
    deliveryGroup: 'Apps',
    state: 'Failed',
    failureCode: 100,
    failureReason: 'NoMachineAvailable',
  }),
];

function event(fields: Partial<EventRow> & { key: string; type: EventRow['type'] }): EventRow {
  return {
    id: `id-${fields.key}`,
    source: 'lsm',
    at: seoul(9, 10),
    user: 'U-BBBB0002',
    domain: 'CORP',
    machine: 'VDA01.corp.example',
    sessionKey: 'k-a',
    clientName: 'C-5E6F7A8B',
    clientAddress: 'A-9C0D1E2F',
    code: null,
    detail: null,
    ...fields,
  };
}

const EVENTS: EventRow[] = [
  event({ key: 'e1', type: 'logon' }),
  event({ key: 'e2', type: 'disconnect', at: seoul(9, 50), code: 11, detail: 'User logoff' }),
  event({ key: 'e3', type: 'failure', at: seoul(9, 40), sessionKey: 'k-failed', code: 100 }),
];

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

const HOST_LOAD: HostLoadRow[] = [
  {
    id: 'id-h1',
    source: 'host',
    key: 'VDA01@1',
    host: 'VDA01',
    at: seoul(9, 0),
    cpuPercent: 37.25,
    memoryUsedBytes: 6 * GIB,
    memoryTotalBytes: 16 * GIB,
    diskUsedBytes: 50 * GIB,
    diskTotalBytes: 200 * GIB,
    processes: null,
    reason: 'schedule',
    triggerCode: null,
  },
  {
    id: 'id-h2',
    source: 'host',
    key: 'VDA01@2',
    host: 'VDA01',
    at: seoul(9, 40),
    cpuPercent: 92,
    memoryUsedBytes: 12 * GIB,
    memoryTotalBytes: 16 * GIB,
    diskUsedBytes: null,
    diskTotalBytes: null,
    processes: [
      { pid: 4120, name: 'chrome', cpuPercent: 12.5, memoryBytes: 512 * MIB },
      { pid: 880, name: 'svchost', cpuPercent: 3, memoryBytes: 40 * MIB },
    ],
    reason: 'failure',
    triggerCode: 'ESOURCE',
  },
];

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autologging-excel-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function input(fields: Partial<DailyWorkbookInput> = {}): DailyWorkbookInput {
  return {
    file: path.join(dir, 'exports', '2026', `${DAY}.xlsx`),
    day: DAY,
    timeZone: ZONE,
    sessions: SESSIONS,
    events: EVENTS,
    hostLoad: HOST_LOAD,
    generatedAt: GENERATED_AT,
    ...fields,
  };
}

async function read(file: string): Promise<ExcelJS.Workbook> {
  return new ExcelJS.Workbook().xlsx.readFile(file);
}

function sheet(workbook: ExcelJS.Workbook, name: string): ExcelJS.Worksheet {
  const found = workbook.getWorksheet(name);
  if (!found) throw new Error(`no sheet ${name}`);
  return found;
}

function rowValues(ws: ExcelJS.Worksheet, row: number): unknown[] {
  return (ws.getRow(row).values as unknown[]).slice(1);
}

/** The data column under header `label`, without the header. */
function column(ws: ExcelJS.Worksheet, label: string): unknown[] {
  const index = rowValues(ws, 1).indexOf(label) + 1;
  if (index === 0) throw new Error(`no column ${label}`);
  const values: unknown[] = [];
  for (let r = 2; r <= ws.rowCount; r++) values.push(ws.getRow(r).getCell(index).value);
  return values;
}

/** The rows of a Summary section: those under its column header, up to the next blank row. */
function section(ws: ExcelJS.Worksheet, title: string): unknown[][] {
  let r = 1;
  while (r <= ws.rowCount && ws.getRow(r).getCell(1).value !== title) r++;
  if (r > ws.rowCount) throw new Error(`no section ${title}`);
  const rows: unknown[][] = [];
  for (r += 2; r <= ws.rowCount && ws.getRow(r).hasValues; r++) rows.push(rowValues(ws, r));
  return rows;
}

/** The value beside `label` in the Summary's first column. */
function figure(ws: ExcelJS.Worksheet, label: string): unknown {
  for (let r = 1; r <= ws.rowCount; r++) {
    if (ws.getRow(r).getCell(1).value === label) return ws.getRow(r).getCell(2).value;
  }
  throw new Error(`no figure ${label}`);
}

async function* slowly<T>(rows: T[], onEach?: (index: number) => void): AsyncGenerator<T> {
  for (let i = 0; i < rows.length; i++) {
    onEach?.(i);
    await Promise.resolve();
    yield rows[i]!;
  }
}

function* failingAfter<T>(rows: T[], count: number): Generator<T> {
  for (let i = 0; i < count; i++) yield rows[i % rows.length]!;
  throw new Error('journal read failed');
}

function manySessions(count: number): SessionRow[] {
  return Array.from({ length: count }, (_, i) =>
    session({
      key: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      user: `U-${String(i % 700).padStart(8, '0')}`,
      deliveryGroup: `Group ${i % 7}`,
      startAt: seoul(0) + i * 4000,
      endAt: seoul(0) + i * 4000 + 2 * 3_600_000,
      logonDurationMs: 8000 + (i % 50) * 100,
    }),
  );
}

describe('writeDailyWorkbook', () => {
  it('writes the four sheets in order with English headers', async () => {
    const result = await writeDailyWorkbook(input());
    const workbook = await read(result.file);

    expect(workbook.worksheets.map((ws) => ws.name)).toEqual([
      'Sessions',
      'Events',
      'Host load',
      'Summary',
    ]);
    expect(rowValues(sheet(workbook, 'Sessions'), 1)).toEqual([
      'Session key',
      'User',
      'Full name',
      'Domain',
      'Machine',
      'Delivery group',
      'Client name',
      'Client address',
      'Client version',
      'Protocol',
      'Type',
      'Start',
      'End',
      'Duration',
      'Logon duration (s)',
      'State',
      'Failure code',
      'Failure reason',
      'Source',
      'Record id',
    ]);
    expect(rowValues(sheet(workbook, 'Events'), 1)).toEqual([
      'Time',
      'Type',
      'User',
      'Domain',
      'Machine',
      'Session key',
      'Client name',
      'Client address',
      'Code',
      'Detail',
      'Source',
      'Record id',
    ]);
    expect(rowValues(sheet(workbook, 'Host load'), 1)).toEqual([
      'Time',
      'Host',
      'CPU %',
      'Memory used (GB)',
      'Memory total (GB)',
      'Memory %',
      'Disk used (GB)',
      'Disk total (GB)',
      'Disk %',
      'Reason',
      'Trigger code',
      'Top processes',
      'Source',
    ]);
    expect(sheet(workbook, 'Sessions').getRow(1).getCell(1).font?.bold).toBe(true);
  });

  it('reports the rows written and the size of the file', async () => {
    const result = await writeDailyWorkbook(input());

    expect(result).toEqual({
      file: input().file,
      sessions: SESSIONS.length,
      events: EVENTS.length,
      hostLoad: HOST_LOAD.length,
      bytes: fs.statSync(input().file).size,
    });
  });

  it('keeps every session in the order given', async () => {
    const workbook = await read((await writeDailyWorkbook(input())).file);

    expect(column(sheet(workbook, 'Sessions'), 'Session key')).toEqual(SESSIONS.map((s) => s.key));
  });

  it('shows dates as the wall clock of the configured zone', async () => {
    const workbook = await read((await writeDailyWorkbook(input())).file);
    const ws = sheet(workbook, 'Sessions');
    const start = ws.getRow(4).getCell(12);

    expect(ws.getRow(4).getCell(1).value).toBe('k-b');
    expect(start.value).toBeInstanceOf(Date);
    expect((start.value as Date).toISOString()).toBe('2026-12-03T09:30:00.000Z');
    expect(start.numFmt).toBe('yyyy-mm-dd hh:mm:ss');
    expect((column(ws, 'Start')[0] as Date).toISOString()).toBe('2026-12-02T23:00:00.000Z');
  });

  it('writes durations as [h]:mm:ss and logon times in seconds', async () => {
    const workbook = await read((await writeDailyWorkbook(input())).file);
    const ws = sheet(workbook, 'Sessions');
    const overnight = ws.getRow(2);

    // exceljs reads a cell with a time format back as a Date counted from Excel's day zero.
    const duration = (overnight.getCell(14).value as Date).getTime() - Date.UTC(1899, 11, 30);
    expect(duration).toBe(2.5 * 3_600_000);
    expect(overnight.getCell(14).numFmt).toBe('[h]:mm:ss');
    expect(overnight.getCell(15).value).toBe(10);
    expect(overnight.getCell(15).numFmt).toBe('0.0');
    expect(column(ws, 'Logon duration (s)')[2]).toBe(5.5);
  });

  it('leaves the end and duration of an ongoing session empty', async () => {
    const workbook = await read((await writeDailyWorkbook(input())).file);
    const ws = sheet(workbook, 'Sessions');
    const ongoing = column(ws, 'Session key').indexOf('k-ongoing');

    expect(column(ws, 'End')[ongoing]).toBeNull();
    expect(column(ws, 'Duration')[ongoing]).toBeNull();
    expect(column(ws, 'State')[ongoing]).toBe('Active');
    expect(column(ws, 'Full name')[ongoing]).toBe('홍길동');
  });

  it('freezes the header row and filters every data sheet', async () => {
    const workbook = await read((await writeDailyWorkbook(input())).file);

    for (const [name, range] of [
      ['Sessions', 'A1:T9'],
      ['Events', 'A1:L4'],
      ['Host load', 'A1:M3'],
    ] as const) {
      const ws = sheet(workbook, name);
      expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
      expect(ws.autoFilter).toBe(range);
      expect(ws.getColumn(1).width).toBeGreaterThan(5);
    }
  });

  it('writes events with their codes and details', async () => {
    const workbook = await read((await writeDailyWorkbook(input())).file);
    const ws = sheet(workbook, 'Events');

    expect(column(ws, 'Type')).toEqual(['logon', 'disconnect', 'failure']);
    expect(column(ws, 'Code')).toEqual([null, 11, 100]);
    expect(column(ws, 'Detail')).toEqual([null, 'User logoff', null]);
    expect((column(ws, 'Time')[1] as Date).toISOString()).toBe('2026-12-03T09:50:00.000Z');
  });

  it('writes host load in gigabytes and percent with the top processes as text', async () => {
    const workbook = await read((await writeDailyWorkbook(input())).file);
    const ws = sheet(workbook, 'Host load');

    expect(column(ws, 'CPU %')).toEqual([37.25, 92]);
    expect(column(ws, 'Memory used (GB)')).toEqual([6, 12]);
    expect(column(ws, 'Memory %')).toEqual([37.5, 75]);
    expect(column(ws, 'Disk %')).toEqual([25, null]);
    expect(column(ws, 'Top processes')).toEqual([
      null,
      'chrome (12.5%, 512 MB); svchost (3.0%, 40 MB)',
    ]);
    expect(column(ws, 'Trigger code')).toEqual([null, 'ESOURCE']);
  });

  it('summarises the day as an independent count does', async () => {
    const workbook = await read((await writeDailyWorkbook(input())).file);
    const ws = sheet(workbook, 'Summary');

    const dayStart = seoul(0);
    const dayEnd = seoul(0, 0, 1);
    const live = SESSIONS.filter((s) => s.state !== 'Failed');
    const openAt = (t: number) =>
      live.filter((s) => s.startAt !== null && s.startAt <= t && t < (s.endAt ?? dayEnd)).length;
    const expectedPeaks: number[] = [];
    for (let h = dayStart; h < dayEnd; h += 3_600_000) {
      let peak = 0;
      // Every fixture time is on a whole minute, so sampling minutes is exact.
      for (let t = h; t < h + 3_600_000; t += 60_000) peak = Math.max(peak, openAt(t));
      expectedPeaks.push(peak);
    }
    const users = new Set(live.map((s) => s.user)).size;
    const failed = SESSIONS.filter((s) => s.state === 'Failed' || s.failureCode !== null);

    const hours = section(ws, 'Peak concurrent sessions by hour');
    expect(hours.map((r) => r[2])).toEqual(expectedPeaks);
    expect(expectedPeaks[9]).toBe(3);
    expect((hours[9]![0] as Date).toISOString()).toBe('2026-12-03T09:00:00.000Z');
    expect(hours[9]![1]).toBe('+09:00');

    expect(figure(ws, 'Sessions')).toBe(live.length);
    expect(figure(ws, 'Distinct users')).toBe(users);
    expect(figure(ws, 'Failures')).toBe(failed.length);
    expect(figure(ws, 'Peak concurrent sessions')).toBe(Math.max(...expectedPeaks));
    expect(figure(ws, 'Average logon duration (s)')).toBe((10 + 20 + 5.5 + 30) / 4);

    expect(section(ws, 'Failures by reason')).toEqual([
      [100, 'NoMachineAvailable', 2],
      [4, 'ConnectionTimeout', 1],
    ]);
    expect(section(ws, 'By delivery group')).toEqual([
      ['Apps', 2, 2, 5.5, 2],
      ['Desktops', 3, 2, 20, 0],
      ['(no delivery group)', 1, 1, undefined, 1],
    ]);
  });

  it('titles the summary with the day, the zone and the generation time', async () => {
    const workbook = await read((await writeDailyWorkbook(input())).file);
    const ws = sheet(workbook, 'Summary');

    expect(ws.getRow(1).getCell(1).value).toBe('Daily session report 2026-12-03 (Asia/Seoul)');
    expect((figure(ws, 'Generated') as Date).toISOString()).toBe('2026-12-04T10:00:00.000Z');
  });

  it('writes Korean labels when the language is ko, keeping English sheet names', async () => {
    const workbook = await read((await writeDailyWorkbook(input({ language: 'ko' }))).file);
    const ws = sheet(workbook, 'Sessions');

    expect(workbook.worksheets.map((s) => s.name)).toEqual([
      'Sessions',
      'Events',
      'Host load',
      'Summary',
    ]);
    expect(rowValues(ws, 1).slice(0, 18)).toEqual([
      '세션 키',
      '사용자',
      '전체 이름',
      '도메인',
      '머신',
      '전달 그룹',
      '클라이언트 이름',
      '클라이언트 주소',
      '클라이언트 버전',
      '프로토콜',
      '유형',
      '시작',
      '종료',
      '기간',
      '로그온 시간(초)',
      '상태',
      '실패 코드',
      '실패 원인',
    ]);
    expect(column(ws, '전체 이름')).toContain('홍길동');
    expect(figure(sheet(workbook, 'Summary'), '세션 수')).toBe(6);
    expect(figure(sheet(workbook, 'Summary'), '최대 동시 세션 수')).toBe(3);
  });

  it.each([
    ['2026-03-08', 23],
    ['2026-11-01', 25],
  ])('gives every real hour of %s in New York (%i rows)', async (day, count) => {
    const file = path.join(dir, `${day}.xlsx`);
    await writeDailyWorkbook(
      input({ file, day, timeZone: 'America/New_York', sessions: [], events: [], hostLoad: [] }),
    );
    const hours = section(sheet(await read(file), 'Summary'), 'Peak concurrent sessions by hour');

    expect(hours).toHaveLength(count);
    if (count === 25) {
      const repeated = hours.filter((r) => (r[0] as Date).toISOString().endsWith('T01:00:00.000Z'));
      expect(repeated.map((r) => r[1])).toEqual(['-04:00', '-05:00']);
    }
  });

  it('creates missing parent folders and replaces an older workbook when complete', async () => {
    const file = input().file;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'older workbook');

    await writeDailyWorkbook(input());

    expect(fs.readFileSync(file).subarray(0, 2).toString()).toBe('PK');
    expect(fs.readdirSync(path.dirname(file))).toEqual([`${DAY}.xlsx`]);
  });

  it.each(['sessions', 'events', 'hostLoad'] as const)(
    'leaves the older workbook and no temporary file when %s throw midway',
    async (which) => {
      const file = input().file;
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, 'older workbook');
      const rows = { sessions: SESSIONS, events: EVENTS, hostLoad: HOST_LOAD }[which];

      const error = await writeDailyWorkbook(
        input({ [which]: failingAfter<unknown>(rows, 1200) }),
      ).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ExportError);
      expect((error as ExportError).code).toBe('EEXPORT');
      expect((error as ExportError).message).toContain(DAY);
      expect((error as ExportError).message).toContain(file);
      expect((error as ExportError).message).toContain('journal read failed');
      expect(((error as ExportError).cause as Error).message).toBe('journal read failed');
      expect(fs.readdirSync(path.dirname(file))).toEqual([`${DAY}.xlsx`]);
      expect(fs.readFileSync(file, 'utf8')).toBe('older workbook');
    },
  );

  it('leaves no file behind when no file at all existed and a source throws', async () => {
    const file = input().file;

    await expect(writeDailyWorkbook(input({ events: failingAfter(EVENTS, 2) }))).rejects.toThrow(
      ExportError,
    );

    expect(fs.readdirSync(path.dirname(file))).toEqual([]);
  });

  it('stops with AbortedError and cleans up when the signal fires midway', async () => {
    const file = input().file;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'older workbook');
    const controller = new AbortController();
    const rows = manySessions(2000);

    const error = await writeDailyWorkbook(
      input({
        sessions: slowly(rows, (i) => {
          if (i === 1500) controller.abort();
        }),
        signal: controller.signal,
      }),
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).code).toBe('EABORTED');
    expect(fs.readdirSync(path.dirname(file))).toEqual([`${DAY}.xlsx`]);
    expect(fs.readFileSync(file, 'utf8')).toBe('older workbook');
  });

  it('writes nothing when the signal has already fired', async () => {
    const controller = new AbortController();
    controller.abort();

    await expect(writeDailyWorkbook(input({ signal: controller.signal }))).rejects.toThrow(
      AbortedError,
    );
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('refuses a malformed day or an unknown zone before touching the disk', async () => {
    for (const bad of [{ day: '2026-13-01' }, { timeZone: 'Mars/Olympus_Mons' }]) {
      const error = await writeDailyWorkbook(input(bad)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ExportError);
      expect((error as ExportError).code).toBe('EEXPORT');
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('reports a folder it cannot create as EEXPORT', async () => {
    const blocker = path.join(dir, 'not-a-folder');
    fs.writeFileSync(blocker, '');

    const error = await writeDailyWorkbook(input({ file: path.join(blocker, 'x.xlsx') })).catch(
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(ExportError);
    expect((error as ExportError).code).toBe('EEXPORT');
    expect(['ENOTDIR', 'EEXIST']).toContain(
      ((error as ExportError).cause as NodeJS.ErrnoException).code,
    );
  });

  it.skipIf(!fs.existsSync('/dev/full'))(
    'reports a full disk as EEXPORT instead of waiting forever',
    async () => {
      const createWriteStream = fs.createWriteStream;
      // /dev/full fails every write with ENOSPC, as a full disk would.
      const spy = vi
        .spyOn(fs, 'createWriteStream')
        .mockImplementation(() => createWriteStream('/dev/full', { flags: 'w' }));

      try {
        const error = await writeDailyWorkbook(input({ sessions: manySessions(3000) })).catch(
          (e: unknown) => e,
        );

        expect(error).toBeInstanceOf(ExportError);
        expect(((error as ExportError).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
        expect(fs.readdirSync(path.dirname(input().file))).toEqual([]);
      } finally {
        spy.mockRestore();
      }
    },
  );

  it('writes 20,000 sessions from an async source', async () => {
    const rows = manySessions(20_000);

    const result = await writeDailyWorkbook(input({ sessions: slowly(rows) }));
    const workbook = await read(result.file);
    const keys = column(sheet(workbook, 'Sessions'), 'Session key');

    expect(result.sessions).toBe(20_000);
    expect(keys).toHaveLength(20_000);
    expect(keys[0]).toBe(rows[0]!.key);
    expect(keys[19_999]).toBe(rows[19_999]!.key);
    expect(figure(sheet(workbook, 'Summary'), 'Distinct users')).toBe(700);
  });
});
