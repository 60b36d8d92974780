/**
 * Turning rows that a command printed (JSON objects, or CSV records by column) into records,
 * following the field mapping in a `command` source's options.
 */
import { EVENT_TYPES, SESSION_STATES } from '../../records.ts';
import type { EventRecord, EventType, SessionRecord, SessionState } from '../../records.ts';
import { readDate, splitAccount } from '../shared/values.ts';

/** Longest text accepted in a field, and in a key. */
const MAX_TEXT = 1024;
const MAX_KEY = 512;

/** The fields of each record kind that a mapping may fill, by how their values are read. */
export const RECORD_FIELDS = {
  session: {
    key: 'key',
    user: 'user',
    domain: 'text',
    fullName: 'text',
    machine: 'text',
    deliveryGroup: 'text',
    clientName: 'text',
    clientAddress: 'text',
    clientVersion: 'text',
    protocol: 'text',
    sessionType: 'sessionType',
    startAt: 'date',
    endAt: 'date',
    logonDurationMs: 'number',
    state: 'state',
    stateChangedAt: 'date',
    failureCode: 'number',
    failureReason: 'text',
  },
  event: {
    key: 'key',
    type: 'type',
    at: 'date',
    user: 'user',
    domain: 'text',
    machine: 'text',
    sessionKey: 'text',
    clientName: 'text',
    clientAddress: 'text',
    code: 'number',
    detail: 'text',
  },
} as const;

/** A record kind a `command` source can produce. */
export type RecordKind = keyof typeof RECORD_FIELDS;

/** The fields each kind needs, from a column or (but for `key` and dates) a fixed value. */
export const REQUIRED_FIELDS: Record<RecordKind, readonly string[]> = {
  session: ['key', 'state'],
  event: ['key', 'type', 'at'],
};

/** How one command's rows become records; checked by the options schema beforehand. */
export interface Mapping {
  record: RecordKind;
  /** Record field → source column (a dotted path into JSON objects); `key` may join several. */
  fields: Record<string, string | string[]>;
  /** Record field → one value for every row, for fields no column holds. */
  values: Record<string, string | number | null>;
  /** Source value → session state, when the source has its own names. */
  states?: Record<string, SessionState>;
  /** Source value → event type; rows of other values are skipped. */
  types?: Record<string, EventType>;
  /** The zone of dates written without an offset. */
  timeZone: string;
}

/** A source row: a parsed JSON object, or a CSV record by column. */
export type Row = Record<string, unknown>;

/** A record; null for a row skipped on purpose (an event type not in `types`); or a problem. */
export type MappedRow = { record: SessionRecord | EventRecord | null } | { problem: string };

/**
 * Maps one row. Each problem names the record field and its column, never the value found
 * there. `onUnknownState` is told of a state value neither `states` nor our names know; that
 * row's state is then `Unknown`.
 */
export function mapRow(
  row: Row,
  mapping: Mapping,
  onUnknownState?: (value: string) => void,
): MappedRow {
  const out: Record<string, unknown> = {};
  for (const [field, reader] of Object.entries(RECORD_FIELDS[mapping.record])) {
    const column = mapping.fields[field];
    const raw = column === undefined ? (mapping.values[field] ?? null) : readColumns(row, column);
    const read = readValue(reader, raw, mapping, onUnknownState);
    if (read.skip) return { record: null };
    if ('problem' in read) {
      const where = column === undefined ? 'its fixed value' : `column ${describe(column)}`;
      return { problem: `field ${field} (${where}) ${read.problem}` };
    }
    out[field] = read.value;
  }

  for (const field of REQUIRED_FIELDS[mapping.record]) {
    if (out[field] === null) {
      return {
        problem: `field ${field} (column ${describe(mapping.fields[field] ?? '?')}) is empty`,
      };
    }
  }
  if (!Object.hasOwn(mapping.fields, 'domain') && !Object.hasOwn(mapping.values, 'domain')) {
    if (typeof out['user'] === 'string') Object.assign(out, splitAccount(out['user']));
  }
  return { record: { kind: mapping.record, ...out } as SessionRecord | EventRecord };
}

/** The value of a column (a dotted path for nested JSON), or of several joined, for keys. */
function readColumns(row: Row, column: string | string[]): unknown {
  if (!Array.isArray(column)) return readColumn(row, column);
  const parts = column.map((c) => readColumn(row, c));
  return parts.some((p) => p === null || p === undefined || p === '') ? null : parts.join('|');
}

/** A column's value: an own property first, then a path such as `User.UserName`. */
export function readColumn(row: Row, column: string): unknown {
  if (Object.hasOwn(row, column)) return row[column];
  let value: unknown = row;
  for (const part of column.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, part)) return null;
    value = (value as Row)[part];
  }
  return value;
}

function describe(column: string | string[]): string {
  return Array.isArray(column) ? column.join('+') : column;
}

type Read = { value: unknown; skip?: false } | { problem: string; skip?: false } | { skip: true };

function readValue(
  reader: string,
  raw: unknown,
  mapping: Mapping,
  onUnknownState?: (value: string) => void,
): Read {
  if (raw === null || raw === undefined || raw === '') return { value: null };
  switch (reader) {
    case 'key':
      return readText(raw, MAX_KEY);
    case 'user':
    case 'text':
      return readText(raw, MAX_TEXT);
    case 'date': {
      const at = readDate(raw, mapping.timeZone);
      return at === undefined ? { problem: 'is not a date' } : { value: at };
    }
    case 'number': {
      const n = typeof raw === 'string' && /^-?\d{1,15}$/.test(raw.trim()) ? Number(raw) : raw;
      return typeof n === 'number' && Number.isSafeInteger(n)
        ? { value: n }
        : { problem: 'is not a whole number' };
    }
    case 'sessionType': {
      const t = String(raw).trim().toLowerCase();
      if (t === 'desktop' || t === '0') return { value: 'desktop' };
      if (t === 'application' || t === '1') return { value: 'application' };
      return { problem: 'is not desktop or application (or 0 or 1)' };
    }
    case 'state':
      return { value: readState(raw, mapping.states, onUnknownState) };
    case 'type': {
      const text = String(raw).trim();
      if (mapping.types) {
        const type = mapping.types[text];
        return type ? { value: type } : { skip: true };
      }
      const type = EVENT_TYPES.find((t) => t === text.toLowerCase());
      return type ? { value: type } : { problem: `is not one of ${EVENT_TYPES.join(', ')}` };
    }
  }
  return { problem: 'has no reader' };
}

function readText(raw: unknown, max: number): Read {
  if (typeof raw === 'number' || typeof raw === 'boolean') return { value: String(raw) };
  if (typeof raw !== 'string') return { problem: 'is not text' };
  if (raw.length > max) return { problem: `is longer than ${max} characters` };
  return { value: raw };
}

/**
 * A session state: through `states` when given, else by our names (any case) or a Monitor
 * ConnectionState number (0 Unknown ... 9 Pending), which match our states in order.
 */
function readState(
  raw: unknown,
  states: Record<string, SessionState> | undefined,
  onUnknownState?: (value: string) => void,
): SessionState {
  const text = String(raw).trim();
  const found =
    states?.[text] ??
    SESSION_STATES.find((s) => s.toLowerCase() === text.toLowerCase()) ??
    (/^\d$/.test(text) ? SESSION_STATES[Number(text)] : undefined);
  if (found) return found;
  onUnknownState?.(text.slice(0, 40));
  return 'Unknown';
}
