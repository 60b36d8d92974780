/**
 * Reading the XML that `wevtutil qe <log> /f:xml` prints, and turning the session events of a
 * Windows session host into event records. wevtutil prints one `<Event>` element after another
 * with no root element; each is parsed on its own, so one damaged event does not hide the
 * others, and every event keeps its place in the batch so that the cursor can stop before the
 * first one that could not be read.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { EventRecord, EventType } from '../../records.ts';
import { splitAccount } from '../shared/values.ts';

/** The log of the Local Session Manager, which records every session on the host. */
export const LSM_LOG = 'Microsoft-Windows-TerminalServices-LocalSessionManager/Operational';
export const SECURITY_LOG = 'Security';

/** One of the two logs this source reads. */
export type EventLogName = typeof LSM_LOG | typeof SECURITY_LOG;

/** The events read from each log; the query asks for these only. */
export const EVENT_IDS: Record<EventLogName, readonly number[]> = {
  [LSM_LOG]: [21, 23, 24, 25, 39, 40],
  [SECURITY_LOG]: [4624, 4634, 4647, 4778, 4779],
};

/** Short names of the logs, used in record keys and the cursor. */
export const LOG_ALIAS: Record<EventLogName, string> = {
  [LSM_LOG]: 'lsm',
  [SECURITY_LOG]: 'security',
};

/**
 * One `<Event>` of a batch, in the order wevtutil printed it: a session event as a record; an
 * event of no interest (a logon of another type than remote) as null; or one that could not be
 * read, with why (never a personal value). `at` is the event's time when it could be read.
 */
export type BatchItem =
  | { recordId: number; at: number; record: EventRecord | null }
  | { recordId: number | null; at: number | null; problem: string };

/** What one batch held. */
export interface Batch {
  items: BatchItem[];
  /** True when there was text outside every `<Event>` element: output that cannot be placed. */
  stray: boolean;
}

/** The longest a text field may be: user and domain names, addresses, client names. */
const MAX_TEXT = 256;

/** Windows logon types, for the detail of a logon event. */
const LOGON_TYPES: Record<number, string> = {
  2: 'Interactive',
  3: 'Network',
  7: 'Unlock',
  10: 'RemoteInteractive',
  11: 'CachedInteractive',
};

/**
 * Event 40's reason codes: the RDP disconnect reasons (MS-RDPBCGR, Set Error Info PDU) that
 * the Local Session Manager reports.
 */
const DISCONNECT_REASONS: Record<number, string> = {
  0: 'no additional information',
  1: 'disconnected by an administrative tool in another session',
  2: 'logged off by an administrative tool in another session',
  3: 'idle session time limit reached',
  4: 'active session time limit reached',
  5: 'another connection took over the session',
  6: 'the server ran out of memory',
  7: 'the server denied the connection',
  9: 'the user lacks the privilege to connect',
  10: 'the server requires fresh credentials',
  11: 'disconnected by the user',
  12: 'logged off by the user',
};

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  // Values stay text: "0x3e7" or a user named "1e5" must not turn into numbers.
  parseTagValue: false,
  parseAttributeValue: false,
  removeNSPrefix: true,
  isArray: (name) => name === 'Data',
});

type XmlNode = Record<string, unknown>;

/** The `<Event>` elements of wevtutil's output, and any text between them that is not blank. */
export function splitEvents(text: string): { chunks: string[]; stray: boolean } {
  const chunks: string[] = [];
  let stray = false;
  let last = 0;
  const start = /<Event[\s>]/g;
  for (let m = start.exec(text); m; m = start.exec(text)) {
    if (text.slice(last, m.index).trim() !== '') stray = true;
    const end = text.indexOf('</Event>', m.index);
    const stop = end < 0 ? text.length : end + '</Event>'.length;
    chunks.push(text.slice(m.index, stop));
    last = stop;
    start.lastIndex = stop;
  }
  if (text.slice(last).trim() !== '') stray = true;
  return { chunks, stray };
}

/**
 * Reads every event of one wevtutil batch from `log`. Events of other ids than this log's, and
 * Security logons or logoffs of another type than 10 (remote), are read but give no record.
 */
export function readBatch(text: string, log: EventLogName): Batch {
  const { chunks, stray } = splitEvents(text);
  return { items: chunks.map((chunk) => readEvent(chunk, log)), stray };
}

/** Reads one `<Event>` element. */
export function readEvent(chunk: string, log: EventLogName): BatchItem {
  const idText = /<EventRecordID>\s*(\d{1,15})\s*<\/EventRecordID>/.exec(chunk)?.[1];
  const recordId = idText === undefined ? null : Number(idText);

  const fail = (problem: string, at: number | null = null): BatchItem => ({
    recordId,
    at,
    problem,
  });

  // The parser on its own accepts mismatched tags; the validator does not.
  const valid = XMLValidator.validate(chunk);
  if (valid !== true) return fail(`is not well-formed XML (line ${valid.err.line} of the event)`);
  const event = child(parser.parse(chunk) as XmlNode, 'Event');
  const system = child(event, 'System');
  if (!event || !system) return fail('has no <System> element');
  if (recordId === null) return fail('has no EventRecordID');

  const eventId = Number(text(system['EventID']));
  const at = readSystemTime(attribute(child(system, 'TimeCreated'), '@SystemTime'));
  const machine = text(system['Computer'])?.trim();
  if (!Number.isInteger(eventId)) return fail('has no EventID');
  if (at === null) return fail('has no valid TimeCreated SystemTime');
  if (!machine || machine.length > MAX_TEXT) return fail('has no valid Computer', at);

  const found = { log, recordId, eventId, at, machine, data: eventData(event) };
  const mapped = log === SECURITY_LOG ? securityRecord(found) : sessionManagerRecord(found);
  if (typeof mapped === 'string') return fail(`(EventID ${eventId}) ${mapped}`, at);
  return { recordId, at, record: mapped };
}

/** The parts of an event every mapping needs. */
interface FoundEvent {
  log: EventLogName;
  recordId: number;
  eventId: number;
  at: number;
  machine: string;
  /** The named values of UserData/EventXML or EventData. */
  data: Map<string, string>;
}

/** A record, null for an event of no interest, or why the event cannot be read. */
type Mapped = EventRecord | null | string;

const SESSION_MANAGER_TYPES: Record<number, EventType> = {
  21: 'logon',
  23: 'logoff',
  24: 'disconnect',
  25: 'reconnect',
  39: 'disconnect',
  40: 'disconnect',
};

const SECURITY_TYPES: Record<number, EventType> = {
  4624: 'logon',
  4634: 'logoff',
  4647: 'logoff',
  4778: 'reconnect',
  4779: 'disconnect',
};

function sessionManagerRecord(e: FoundEvent): Mapped {
  const type = SESSION_MANAGER_TYPES[e.eventId];
  if (!type) return null;
  const sessionField =
    e.eventId === 39 ? 'TargetSession' : e.eventId === 40 ? 'Session' : 'SessionID';
  const session = wholeNumber(e.data, sessionField);
  if (typeof session === 'string') return session;

  if (e.eventId === 39) {
    const by = wholeNumber(e.data, 'Source');
    if (typeof by === 'string') return by;
    return record(e, type, session, {
      detail: `session ${session} disconnected by session ${by}`,
    });
  }
  if (e.eventId === 40) {
    const reason = wholeNumber(e.data, 'Reason');
    if (typeof reason === 'string') return reason;
    const words = DISCONNECT_REASONS[reason] ?? 'a reason code without description';
    return record(e, type, session, { code: reason, detail: `session ${session}: ${words}` });
  }

  const account = e.data.get('User');
  const address = e.data.get('Address');
  if (account === undefined) return 'field User is missing';
  if (account.trim() === '') return 'field User is empty';
  const tooLong = overlong({ User: account, Address: address });
  if (tooLong) return tooLong;

  // A console logon names no address but the word LOCAL.
  const local = address?.trim().toUpperCase() === 'LOCAL';
  return record(e, type, session, {
    ...splitAccount(account.trim()),
    clientAddress: local ? null : addressOrNull(address),
    detail: local ? `session ${session} at the console` : `session ${session}`,
  });
}

function securityRecord(e: FoundEvent): Mapped {
  const type = SECURITY_TYPES[e.eventId];
  if (!type) return null;

  let logonType: number | null = null;
  if (e.eventId === 4624 || e.eventId === 4634) {
    const read = wholeNumber(e.data, 'LogonType');
    if (typeof read === 'string') return read;
    // Only remote-desktop logons: every access to a file share is a logon of type 3.
    if (read !== 10) return null;
    logonType = read;
  }

  const reconnection = e.eventId === 4778 || e.eventId === 4779;
  const names = reconnection
    ? { user: 'AccountName', domain: 'AccountDomain', logonId: 'LogonID' }
    : { user: 'TargetUserName', domain: 'TargetDomainName', logonId: 'TargetLogonId' };
  const fields = {
    [names.user]: e.data.get(names.user),
    [names.domain]: e.data.get(names.domain),
    [names.logonId]: e.data.get(names.logonId),
    ClientName: e.data.get(reconnection ? 'ClientName' : 'WorkstationName'),
    ClientAddress: e.data.get(reconnection ? 'ClientAddress' : 'IpAddress'),
    SessionName: e.data.get('SessionName'),
  };
  const user = dashToNull(fields[names.user]);
  if (user === null) return `field ${names.user} is missing`;
  const tooLong = overlong(fields);
  if (tooLong) return tooLong;

  const logonId = dashToNull(fields[names.logonId]);
  const sessionName = dashToNull(fields.SessionName);
  return {
    kind: 'event',
    key: recordKey(e),
    type,
    at: e.at,
    user,
    domain: dashToNull(fields[names.domain]),
    machine: e.machine,
    sessionKey: logonId ? `${e.machine}/logon/${logonId.toLowerCase()}` : null,
    clientName: dashToNull(fields.ClientName),
    clientAddress: addressOrNull(fields.ClientAddress),
    code: null,
    detail:
      logonType !== null
        ? `logon type ${logonType} (${LOGON_TYPES[logonType] ?? 'other'})`
        : sessionName
          ? `session ${sessionName}`
          : null,
  };
}

/** Why one of `fields` cannot be stored, naming it: too long to be what it claims. */
function overlong(fields: Record<string, string | undefined>): string | null {
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value.length > MAX_TEXT) {
      return `field ${name} is longer than ${MAX_TEXT} characters`;
    }
  }
  return null;
}

function record(
  e: FoundEvent,
  type: EventType,
  session: number,
  extra: Partial<Pick<EventRecord, 'user' | 'domain' | 'clientAddress' | 'code' | 'detail'>>,
): EventRecord {
  return {
    kind: 'event',
    key: recordKey(e),
    type,
    at: e.at,
    user: null,
    domain: null,
    machine: e.machine,
    sessionKey: `${e.machine}/session/${session}`,
    clientName: null,
    clientAddress: null,
    code: null,
    detail: null,
    ...extra,
  };
}

/**
 * Host, log, record id and time: record ids count per log and host, and start again at 1 when a
 * log is cleared, so the time keeps a later event from taking an earlier one's key.
 */
function recordKey(e: FoundEvent): string {
  return `${e.machine.toLowerCase()}/${LOG_ALIAS[e.log]}/${e.recordId}/${e.at}`;
}

/** Event log times: `2024-06-27T00:05:12.4387523Z`, with any number of fraction digits. */
export function readSystemTime(value: string | undefined): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$/.exec(value ?? '');
  if (!m) return null;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m
    .slice(1, 7)
    .map(Number);
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const at = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const back = new Date(at);
  if (
    back.getUTCDate() !== day ||
    back.getUTCMonth() !== month - 1 ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return null;
  }
  return at;
}

function child(node: unknown, name: string): XmlNode | undefined {
  const value = (node as XmlNode | undefined)?.[name];
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as XmlNode)
    : undefined;
}

function attribute(node: XmlNode | undefined, name: string): string | undefined {
  const value = node?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** The text of an element: a string, or the `#text` of one with attributes. */
function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const inner = (value as XmlNode)['#text'];
    return typeof inner === 'string' ? inner : '';
  }
  return undefined;
}

/** The named values of an event: children of UserData/EventXML, or EventData's `<Data Name>`. */
function eventData(event: XmlNode): Map<string, string> {
  const data = new Map<string, string>();
  const userData = child(event, 'UserData');
  if (userData) {
    for (const value of Object.values(userData)) {
      if (typeof value !== 'object' || value === null) continue;
      for (const [name, inner] of Object.entries(value as XmlNode)) {
        const t = text(inner);
        if (!name.startsWith('@') && t !== undefined) data.set(name, t);
      }
    }
  }
  const items = child(event, 'EventData')?.['Data'];
  if (Array.isArray(items)) {
    for (const item of items) {
      const name = attribute(item as XmlNode, '@Name');
      if (name) data.set(name, text(item) ?? '');
    }
  }
  return data;
}

function wholeNumber(data: Map<string, string>, name: string): number | string {
  const value = data.get(name);
  if (value === undefined) return `field ${name} is missing`;
  if (!/^\d{1,10}$/.test(value.trim())) return `field ${name} is not a whole number`;
  return Number(value.trim());
}

/** `-`, blank and the like mean "none" in Security events. */
function dashToNull(value: string | undefined): string | null {
  const v = value?.trim();
  return !v || v === '-' ? null : v;
}

function addressOrNull(value: string | undefined): string | null {
  const v = dashToNull(value);
  return v === null || /^unknown$/i.test(v) ? null : v;
}
