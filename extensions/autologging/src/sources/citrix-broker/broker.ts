/**
 * Reading `Get-BrokerSession | ConvertTo-Json` from a Citrix Delivery Controller into session
 * records. Windows PowerShell 5.1 writes dates as `\/Date(1574202819000)\/`, PowerShell 7 as ISO
 * strings, and `ConvertTo-Json` writes a single session as an object rather than an array: all
 * of these are accepted.
 */
import type { SessionRecord, SessionState } from '../../records.ts';
import { readDate, splitAccount } from '../shared/values.ts';

/** The properties the command selects, in the order it selects them. */
export const BROKER_FIELDS = [
  'SessionKey',
  'UserName',
  'UserUPN',
  'UserFullName',
  'MachineName',
  'DNSName',
  'DesktopGroupName',
  'ClientName',
  'ClientAddress',
  'ClientVersion',
  'Protocol',
  'SessionType',
  'SessionState',
  'StartTime',
  'BrokeringTime',
  'EstablishmentTime',
  'SessionStateChangeTime',
] as const;

/** Broker SessionState names, as our states. */
const STATES: Record<string, SessionState> = {
  Active: 'Active',
  Connected: 'Connected',
  Disconnected: 'Disconnected',
  PreparingNewSession: 'PreparingSession',
  Reconnecting: 'Reconnecting',
  NonBrokeredSession: 'NonBrokeredSession',
  Other: 'Other',
  Unknown: 'Unknown',
};

/** The longest text accepted in any field: names, addresses, versions. */
const MAX_TEXT = 256;

/** One session of the output: a record, or why it could not be read (no personal value). */
export type BrokerItem = { record: SessionRecord } | { problem: string };

/** Thrown when the whole output is not JSON, or not sessions. */
export class BrokerOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrokerOutputError';
  }
}

/** What the mapping needs beyond the JSON. */
export interface BrokerReading {
  /** The zone of dates written without an offset (PowerShell 7, local kind). */
  timeZone: string;
  /** Called once per session state name this source does not know; recorded as `Other`. */
  onUnknownState?: (name: string) => void;
}

/**
 * Reads the JSON that `Get-BrokerSession | Select-Object ... | ConvertTo-Json` prints: an array,
 * a single object, or nothing at all. Each session is a record or a problem, in order. Throws
 * `BrokerOutputError` when the text is not JSON or not sessions; the message never repeats it.
 */
export function readBrokerSessions(text: string, reading: BrokerReading): BrokerItem[] {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new BrokerOutputError(`printed ${trimmed.length} characters that are not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw new BrokerOutputError('printed JSON that is neither a session nor a list of sessions');
  }
  const items = Array.isArray(parsed) ? parsed : [parsed];
  return items.map((item) => readSession(item, reading));
}

function readSession(item: unknown, reading: BrokerReading): BrokerItem {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return { problem: 'is not an object' };
  }
  const session = item as Record<string, unknown>;

  const key = session['SessionKey'];
  if (typeof key !== 'string' || !/^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(key)) {
    return { problem: 'field SessionKey is missing or not a GUID' };
  }

  const texts: Partial<Record<(typeof BROKER_FIELDS)[number], string | null>> = {};
  for (const field of BROKER_FIELDS) {
    if (field.endsWith('Time') || field === 'SessionKey') continue;
    const value = session[field];
    if (value === undefined || value === null || value === '') {
      texts[field] = null;
    } else if (typeof value !== 'string') {
      return { problem: `field ${field} is not text` };
    } else if (value.length > MAX_TEXT) {
      return { problem: `field ${field} is longer than ${MAX_TEXT} characters` };
    } else {
      texts[field] = value;
    }
  }

  const times: Record<string, number | null> = {};
  for (const field of [
    'StartTime',
    'BrokeringTime',
    'EstablishmentTime',
    'SessionStateChangeTime',
  ]) {
    const value = readBrokerDate(session[field], reading.timeZone);
    if (value === undefined) return { problem: `field ${field} is not a date` };
    times[field] = value;
  }

  const stateName = texts.SessionState;
  if (!stateName) return { problem: 'field SessionState is missing' };
  let state = STATES[stateName];
  if (!state) {
    reading.onUnknownState?.(stateName.slice(0, 40));
    state = 'Other';
  }

  const name = texts.UserName ?? texts.UserUPN ?? null;
  const account = name === null ? { user: null, domain: null } : splitAccount(name);
  return {
    record: {
      kind: 'session',
      key: key.toLowerCase(),
      user: account.user,
      domain: account.domain,
      fullName: texts.UserFullName ?? null,
      machine: texts.MachineName ?? texts.DNSName ?? null,
      deliveryGroup: texts.DesktopGroupName ?? null,
      clientName: texts.ClientName ?? null,
      clientAddress: texts.ClientAddress ?? null,
      clientVersion: texts.ClientVersion ?? null,
      protocol: texts.Protocol ?? null,
      sessionType: sessionTypeOf(texts.SessionType ?? null),
      startAt: times['StartTime'] ?? times['EstablishmentTime'] ?? times['BrokeringTime'] ?? null,
      endAt: null,
      logonDurationMs: null,
      state,
      stateChangedAt: times['SessionStateChangeTime'] ?? null,
      failureCode: null,
      failureReason: null,
    },
  };
}

/**
 * A date as ConvertTo-Json writes it: `/Date(ms)/` (optionally with an offset, which does not
 * change the instant), an ISO string with `Z` or an offset, or an ISO string without one, read
 * in `timeZone`. PowerShell 5.1 may also wrap a date as `{ value, DisplayHint, DateTime }`.
 * Null for an absent date; undefined for a value that is not a date.
 */
export function readBrokerDate(value: unknown, timeZone: string): number | null | undefined {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'object' && !Array.isArray(value) && 'value' in value) {
    return readBrokerDate((value as { value: unknown }).value, timeZone);
  }
  // ConvertTo-Json writes every date as text; a bare number is something else.
  return typeof value === 'string' ? readDate(value, timeZone) : undefined;
}

function sessionTypeOf(value: string | null): SessionRecord['sessionType'] {
  if (value === null) return null;
  if (/^(application|1)$/i.test(value)) return 'application';
  if (/^(desktop|0)$/i.test(value)) return 'desktop';
  return null;
}
