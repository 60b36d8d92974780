import type { EventRow, HostLoadRow, SessionRow } from '../journal/rows.ts';
import type { ProcessSample } from '../records.ts';
import { wallClockDate } from '../time.ts';
import type { LabelKey } from './labels.ts';

/** What a data cell may hold. */
export type CellValue = string | number | Date | null;

/** One column of a data sheet: its header label, width, number format and value. */
export interface ColumnSpec<Row> {
  label: LabelKey;
  /** In Excel's character units. */
  width: number;
  numFmt?: string;
  value(row: Row, timeZone: string): CellValue;
}

/** Date cells: the wall clock of the configured zone, to the second. */
export const DATE_FORMAT = 'yyyy-mm-dd hh:mm:ss';
/** A session's length as a fraction of a day; `[h]` keeps counting past 24 hours. */
export const DURATION_FORMAT = '[h]:mm:ss';
/** Seconds, percentages and averages. */
export const ONE_DECIMAL = '0.0';
const TWO_DECIMALS = '0.00';
const INTEGER = '0';

const DAY_MS = 86_400_000;
const GB = 1024 ** 3;
const MB = 1024 ** 2;

// Excel rejects a file whose cell holds more than 32,767 characters.
const MAX_CELL_TEXT = 32_767;

/** The Sessions sheet, in column order. */
export const SESSION_COLUMNS: ColumnSpec<SessionRow>[] = [
  { label: 'sessionKey', width: 38, value: (r) => text(r.key) },
  { label: 'user', width: 14, value: (r) => text(r.user) },
  { label: 'fullName', width: 20, value: (r) => text(r.fullName) },
  { label: 'domain', width: 12, value: (r) => text(r.domain) },
  { label: 'machine', width: 24, value: (r) => text(r.machine) },
  { label: 'deliveryGroup', width: 20, value: (r) => text(r.deliveryGroup) },
  { label: 'clientName', width: 18, value: (r) => text(r.clientName) },
  { label: 'clientAddress', width: 16, value: (r) => text(r.clientAddress) },
  { label: 'clientVersion', width: 14, value: (r) => text(r.clientVersion) },
  { label: 'protocol', width: 10, value: (r) => text(r.protocol) },
  { label: 'type', width: 12, value: (r) => text(r.sessionType) },
  { label: 'start', width: 20, numFmt: DATE_FORMAT, value: (r, tz) => date(r.startAt, tz) },
  { label: 'end', width: 20, numFmt: DATE_FORMAT, value: (r, tz) => date(r.endAt, tz) },
  {
    label: 'duration',
    width: 11,
    numFmt: DURATION_FORMAT,
    value: (r) =>
      r.startAt !== null && r.endAt !== null ? num((r.endAt - r.startAt) / DAY_MS) : null,
  },
  {
    label: 'logonSeconds',
    width: 14,
    numFmt: ONE_DECIMAL,
    value: (r) => (r.logonDurationMs === null ? null : num(r.logonDurationMs / 1000)),
  },
  { label: 'state', width: 14, value: (r) => r.state },
  { label: 'failureCode', width: 12, numFmt: INTEGER, value: (r) => num(r.failureCode) },
  { label: 'failureReason', width: 24, value: (r) => text(r.failureReason) },
  { label: 'source', width: 14, value: (r) => text(r.source) },
  { label: 'recordId', width: 20, value: (r) => text(r.id) },
];

/** The Events sheet, in column order. */
export const EVENT_COLUMNS: ColumnSpec<EventRow>[] = [
  { label: 'time', width: 20, numFmt: DATE_FORMAT, value: (r, tz) => date(r.at, tz) },
  { label: 'type', width: 12, value: (r) => r.type },
  { label: 'user', width: 14, value: (r) => text(r.user) },
  { label: 'domain', width: 12, value: (r) => text(r.domain) },
  { label: 'machine', width: 24, value: (r) => text(r.machine) },
  { label: 'sessionKey', width: 38, value: (r) => text(r.sessionKey) },
  { label: 'clientName', width: 18, value: (r) => text(r.clientName) },
  { label: 'clientAddress', width: 16, value: (r) => text(r.clientAddress) },
  { label: 'code', width: 8, numFmt: INTEGER, value: (r) => num(r.code) },
  { label: 'detail', width: 30, value: (r) => text(r.detail) },
  { label: 'source', width: 14, value: (r) => text(r.source) },
  { label: 'recordId', width: 20, value: (r) => text(r.id) },
];

/** The Host load sheet, in column order. */
export const HOST_LOAD_COLUMNS: ColumnSpec<HostLoadRow>[] = [
  { label: 'time', width: 20, numFmt: DATE_FORMAT, value: (r, tz) => date(r.at, tz) },
  { label: 'host', width: 24, value: (r) => text(r.host) },
  { label: 'cpuPercent', width: 8, numFmt: ONE_DECIMAL, value: (r) => num(r.cpuPercent) },
  {
    label: 'memoryUsedGb',
    width: 12,
    numFmt: TWO_DECIMALS,
    value: (r) => num(r.memoryUsedBytes / GB),
  },
  {
    label: 'memoryTotalGb',
    width: 12,
    numFmt: TWO_DECIMALS,
    value: (r) => num(r.memoryTotalBytes / GB),
  },
  {
    label: 'memoryPercent',
    width: 10,
    numFmt: ONE_DECIMAL,
    value: (r) => percent(r.memoryUsedBytes, r.memoryTotalBytes),
  },
  {
    label: 'diskUsedGb',
    width: 12,
    numFmt: TWO_DECIMALS,
    value: (r) => (r.diskUsedBytes === null ? null : num(r.diskUsedBytes / GB)),
  },
  {
    label: 'diskTotalGb',
    width: 12,
    numFmt: TWO_DECIMALS,
    value: (r) => (r.diskTotalBytes === null ? null : num(r.diskTotalBytes / GB)),
  },
  {
    label: 'diskPercent',
    width: 10,
    numFmt: ONE_DECIMAL,
    value: (r) => percent(r.diskUsedBytes, r.diskTotalBytes),
  },
  { label: 'reason', width: 10, value: (r) => r.reason },
  { label: 'triggerCode', width: 14, value: (r) => text(r.triggerCode) },
  { label: 'topProcesses', width: 60, value: (r) => text(describeProcesses(r.processes)) },
  { label: 'source', width: 14, value: (r) => text(r.source) },
];

/** Processes as one line: `chrome (12.5%, 512 MB); svchost (3.0%, 40 MB)`, in sample order. */
export function describeProcesses(processes: readonly ProcessSample[] | null): string | null {
  if (!processes || processes.length === 0) return null;
  return processes
    .map((p) => `${p.name} (${p.cpuPercent.toFixed(1)}%, ${Math.round(p.memoryBytes / MB)} MB)`)
    .join('; ');
}

/** The wall clock of `ms` in `timeZone` as an Excel date, or `null`. */
export function date(ms: number | null, timeZone: string): Date | null {
  return ms === null || !Number.isFinite(ms) ? null : wallClockDate(ms, timeZone);
}

/** A finite number, or `null`: NaN and infinities would make an unreadable cell. */
export function num(value: number | null): number | null {
  return value !== null && Number.isFinite(value) ? value : null;
}

/** Text cut to what one Excel cell can hold. */
export function text(value: string | null): string | null {
  if (value === null || value.length <= MAX_CELL_TEXT) return value;
  // Do not leave half of a surrogate pair at the cut.
  const last = value.charCodeAt(MAX_CELL_TEXT - 1);
  return value.slice(0, last >= 0xd800 && last <= 0xdbff ? MAX_CELL_TEXT - 1 : MAX_CELL_TEXT);
}

function percent(used: number | null, total: number | null): number | null {
  return used === null || total === null || total <= 0 ? null : num((used / total) * 100);
}
