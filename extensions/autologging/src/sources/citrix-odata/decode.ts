/**
 * Reads Monitor Service OData v4 JSON into records. Every field is checked: a row that cannot be
 * read is reported with the field and the reason, never with the value, which may be personal.
 * Pure: no I/O, no clock.
 */
import type { EventRecord, SessionRecord, SessionState } from '../../records.ts';
import { CONNECTION_STATES, SESSION_TYPES, enumName, sessionFailureName } from './enums.ts';

/** The longest text a field may hold; longer means a broken or hostile response. */
export const MAX_TEXT = 512;
/** The longest `@odata.nextLink` followed. */
const MAX_LINK = 8192;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// OData v4 DateTimeOffset, and the offset-less form some controllers send (read as UTC).
const DATE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})?$/;

/** A field that could not be read: its path (`User.UserName`) and why. Never the value. */
export class FieldProblem extends Error {
  readonly field: string;
  readonly reason: string;

  constructor(field: string, reason: string) {
    super(`${field} ${reason}`);
    this.name = 'FieldProblem';
    this.field = field;
    this.reason = reason;
  }
}

/** A row read into a record, or the field that stopped it. */
export type Decoded<T> =
  | { ok: true; record: T; modifiedAt: number }
  | {
      ok: false;
      field: string;
      reason: string;
      /** The row's key when it could be read (a GUID is not personal), for the message. */
      key: string | null;
      /** The row's ModifiedDate when it could be read: the cursor must not pass it. */
      modifiedAt: number | null;
    };

/** Told about an enumeration code this build does not know; the record still goes through. */
export type UnknownCode = (field: string, code: number) => void;

/** One page of an entity set. */
export interface ODataPage {
  rows: unknown[];
  nextLink: string | null;
  /** `@odata.count`, when asked for with `$count=true`. */
  count: number | null;
}

/**
 * The instant of an OData date: `2024-12-01T00:00:00Z`, with up to 7 fraction digits (cut to
 * milliseconds) and any offset; without an offset the time is UTC. Null when it is not a valid
 * date-time from year 1900 to 9999.
 */
export function parseODataDate(text: string): number | null {
  const m = DATE.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(m[i]));
  const second = Number(m[6] ?? 0);
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  if (year! < 1900 || hour! > 23 || minute! > 59 || second > 59) return null;
  const utc = Date.UTC(year!, month! - 1, day!, hour, minute, second, ms);
  const d = new Date(utc);
  if (d.getUTCMonth() !== month! - 1 || d.getUTCDate() !== day) return null;

  const zone = m[8];
  if (!zone || zone === 'Z') return utc;
  const sign = zone.startsWith('-') ? -1 : 1;
  const offset = (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  return Number(zone.slice(1, 3)) > 14 || Number(zone.slice(4, 6)) > 59
    ? null
    : utc - sign * offset;
}

/** An instant as an unquoted OData v4 UTC literal: `2024-12-01T00:00:00Z`, ms only when set. */
export function formatODataDate(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/**
 * Checks the envelope of a v4 JSON page: `value` must be a list, `@odata.nextLink` text when
 * present, `@odata.count` a number when present. Throws `FieldProblem` naming what is wrong.
 */
export function readPage(body: unknown): ODataPage {
  if (!isObject(body)) throw new FieldProblem('the response', `is ${kind(body)}, not an object`);
  const rows = body.value;
  if (!Object.hasOwn(body, 'value')) throw new FieldProblem('value', 'is missing');
  if (!Array.isArray(rows)) throw new FieldProblem('value', `is ${kind(rows)}, not a list`);

  const link = body['@odata.nextLink'] ?? null;
  if (link !== null && typeof link !== 'string') {
    throw new FieldProblem('@odata.nextLink', `is ${kind(link)}, not a link`);
  }
  if (link !== null && link.length > MAX_LINK) {
    throw new FieldProblem('@odata.nextLink', `is longer than ${MAX_LINK} characters`);
  }
  const count = body['@odata.count'] ?? null;
  if (count !== null && !(typeof count === 'number' && Number.isSafeInteger(count) && count >= 0)) {
    throw new FieldProblem('@odata.count', `is ${kind(count)}, not a count`);
  }
  return { rows, nextLink: link, count };
}

/** A DesktopGroups row: its Id and Name. */
export function decodeDesktopGroup(value: unknown): { id: string; name: string | null } {
  const row = new Reader(value, '');
  return { id: row.guid('Id', 'value') as string, name: row.text('Name', 'present') };
}

/**
 * A Sessions row, with `User`, `Machine`, `CurrentConnection` and `Failure` expanded, as a
 * session record. `groups` maps DesktopGroup Ids to names. A session with a FailureDate is
 * `Failed`, its start and end the failure time when Citrix gives none.
 */
export function decodeSession(
  value: unknown,
  groups: ReadonlyMap<string, string | null>,
  unknownCode: UnknownCode,
): Decoded<SessionRecord> {
  let key: string | null = null;
  const modifiedAt = peekDate(value, 'ModifiedDate');
  try {
    const row = new Reader(value, '');
    key = row.guid('SessionKey', 'value');
    row.date('ModifiedDate', 'value');
    const failedAt = row.date('FailureDate');
    const startDate = row.date('StartDate', 'present');
    const endDate = row.date('EndDate', 'present');
    const stateCode = row.int('ConnectionState', 'value') as number;
    const changedAt = row.date('ConnectionStateChangeDate');
    const logonMs = row.int('LogOnDuration', 'optional', 0);
    const typeCode = row.int('SessionType');

    const user = readUser(row.nested('User'));
    const machine = readMachine(row.nested('Machine'));
    const connection = readConnection(row.nested('CurrentConnection'));
    const failureCode = row.nested('Failure')?.int('ConnectionFailureEnumValue', 'value') ?? null;

    let state: SessionState = 'Failed';
    if (failedAt === null) {
      state = enumName(CONNECTION_STATES, stateCode) ?? 'Unknown';
      if (state === 'Unknown' && stateCode !== 0) unknownCode('ConnectionState', stateCode);
    }
    let sessionType: SessionRecord['sessionType'] = null;
    if (typeCode !== null) {
      sessionType = enumName(SESSION_TYPES, typeCode);
      if (sessionType === null) unknownCode('SessionType', typeCode);
    }

    const record: SessionRecord = {
      kind: 'session',
      key: key as string,
      user: user.user,
      domain: user.domain,
      fullName: user.fullName,
      machine: machine.name,
      deliveryGroup: machine.groupId === null ? null : (groups.get(machine.groupId) ?? null),
      clientName: connection.clientName,
      clientAddress: connection.clientAddress,
      clientVersion: connection.clientVersion,
      protocol: connection.protocol,
      sessionType,
      startAt: startDate ?? failedAt,
      endAt: endDate ?? failedAt,
      logonDurationMs: logonMs,
      state,
      stateChangedAt: changedAt ?? failedAt,
      failureCode,
      failureReason: failureCode === null ? null : sessionFailureName(failureCode),
    };
    return { ok: true, record, modifiedAt: modifiedAt as number };
  } catch (error) {
    return problem(error, key, modifiedAt);
  }
}

/**
 * A ConnectionFailureLogs row, with `User`, `Machine` and `Session($expand=CurrentConnection)`
 * expanded, as a `failure` event keyed `<SessionKey>:failure:<epoch ms>`. Its code is the
 * SessionFailureCode, its detail that code's name.
 */
export function decodeFailure(value: unknown): Decoded<EventRecord> {
  let key: string | null = null;
  const modifiedAt = peekDate(value, 'ModifiedDate');
  try {
    const row = new Reader(value, '');
    key = row.guid('SessionKey', 'value');
    row.date('ModifiedDate', 'value');
    const at = row.date('FailureDate', 'value') as number;
    const code = row.int('ConnectionFailureEnumValue', 'value') as number;

    const user = readUser(row.nested('User'));
    const machine = readMachine(row.nested('Machine'));
    const connection = readConnection(row.nested('Session')?.nested('CurrentConnection') ?? null);

    const record: EventRecord = {
      kind: 'event',
      key: `${key}:failure:${at}`,
      type: 'failure',
      at,
      user: user.user,
      domain: user.domain,
      machine: machine.name,
      sessionKey: key,
      clientName: connection.clientName,
      clientAddress: connection.clientAddress,
      code,
      detail: sessionFailureName(code),
    };
    return { ok: true, record, modifiedAt: modifiedAt as number };
  } catch (error) {
    return problem(error, key, modifiedAt);
  }
}

// ---------------------------------------------------------------------------------------------

function problem(error: unknown, key: string | null, modifiedAt: number | null) {
  if (!(error instanceof FieldProblem)) throw error;
  return { ok: false as const, field: error.field, reason: error.reason, key, modifiedAt };
}

function readUser(user: Reader | null) {
  if (!user) return { user: null, domain: null, fullName: null };
  const userName = user.text('UserName');
  const domain = user.text('Domain');
  const upn = user.text('Upn');
  const fullName = user.text('FullName');

  // Citrix sends `DOMAIN\name` on some sites and a bare name beside Domain on others.
  if (userName !== null) {
    const slash = userName.indexOf('\\');
    if (slash < 0) return { user: userName, domain, fullName };
    return {
      user: userName.slice(slash + 1) || null,
      domain: userName.slice(0, slash) || domain,
      fullName,
    };
  }
  if (upn !== null) {
    const at = upn.lastIndexOf('@');
    return { user: at > 0 ? upn.slice(0, at) : upn, domain, fullName };
  }
  return { user: null, domain, fullName };
}

function readMachine(machine: Reader | null) {
  if (!machine) return { name: null, groupId: null };
  const name = machine.text('Name') ?? machine.text('DnsName') ?? machine.text('HostedMachineName');
  return { name, groupId: machine.guid('DesktopGroupId') };
}

function readConnection(connection: Reader | null) {
  if (!connection) {
    return { clientName: null, clientAddress: null, clientVersion: null, protocol: null };
  }
  return {
    clientName: connection.text('ClientName'),
    clientAddress: connection.text('ClientAddress'),
    clientVersion: connection.text('ClientVersion'),
    protocol: connection.text('Protocol'),
  };
}

/** The date in `field` when there is a valid one, without complaining otherwise. */
function peekDate(value: unknown, field: string): number | null {
  const text = isObject(value) ? value[field] : undefined;
  return typeof text === 'string' && text.length <= 40 ? parseODataDate(text) : null;
}

/**
 * What a field must hold: `value` present and not null, `present` present but maybe null,
 * `optional` null when absent (older controllers lack some properties).
 */
type Need = 'value' | 'present' | 'optional';

/** Reads the fields of one entity, throwing `FieldProblem` at the first one that is wrong. */
class Reader {
  readonly #row: Record<string, unknown>;
  readonly #path: string;

  constructor(value: unknown, path: string) {
    if (!isObject(value))
      throw new FieldProblem(path || 'the row', `is ${kind(value)}, not an object`);
    this.#row = value;
    this.#path = path;
  }

  text(name: string, need: Need = 'optional'): string | null {
    const v = this.#get(name, need);
    if (v === null) return null;
    if (typeof v !== 'string') this.#fail(name, `must be text, not ${kind(v)}`);
    if (v.length > MAX_TEXT) this.#fail(name, `is longer than ${MAX_TEXT} characters`);
    if (v === '' && need === 'value') this.#fail(name, 'is empty');
    return v === '' ? null : v;
  }

  date(name: string, need: Need = 'optional'): number | null {
    const v = this.#get(name, need);
    if (v === null) return null;
    if (typeof v !== 'string') this.#fail(name, `must be a date, not ${kind(v)}`);
    const ms = v.length <= 40 ? parseODataDate(v) : null;
    if (ms === null) this.#fail(name, 'is not a date (expected e.g. 2024-12-01T00:00:00Z)');
    return ms;
  }

  int(name: string, need: Need = 'optional', min = -Infinity): number | null {
    const v = this.#get(name, need);
    if (v === null) return null;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      this.#fail(name, `must be a whole number, not ${kind(v)}`);
    }
    if (v < min) this.#fail(name, `must be at least ${min}`);
    return v;
  }

  guid(name: string, need: Need = 'optional'): string | null {
    const v = this.#get(name, need);
    if (v === null) return null;
    if (typeof v !== 'string' || !GUID.test(v)) this.#fail(name, `must be a GUID, not ${kind(v)}`);
    return v.toLowerCase();
  }

  /** An expanded navigation property; null when absent or null. */
  nested(name: string): Reader | null {
    const v = this.#get(name, 'optional');
    return v === null ? null : new Reader(v, this.#field(name));
  }

  #get(name: string, need: Need): unknown {
    if (!Object.hasOwn(this.#row, name) || this.#row[name] === undefined) {
      if (need === 'optional') return null;
      this.#fail(name, 'is missing');
    }
    const v = this.#row[name];
    if (v === null && need === 'value') this.#fail(name, 'is null');
    return v ?? null;
  }

  #field(name: string): string {
    return this.#path ? `${this.#path}.${name}` : name;
  }

  #fail(name: string, reason: string): never {
    throw new FieldProblem(this.#field(name), reason);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What kind of JSON value this is, for a message that must not show the value itself. */
function kind(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'text';
    case 'number':
      return Number.isInteger(value) ? 'a whole number' : 'a fraction';
    case 'boolean':
      return 'true/false';
    default:
      return 'an object';
  }
}
