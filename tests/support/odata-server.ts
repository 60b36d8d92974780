/**
 * A Citrix Monitor Service OData v4 stand-in for tests: a real HTTP(S) server on 127.0.0.1 that
 * pages with `@odata.nextLink`, filters and orders on dates, expands navigation properties,
 * guards the on-premises path with NTLM (checking user, domain and the NTLMv2 proof) and the
 * Citrix Cloud path with client-credential tokens, and can be told per test to fail: 401, 403,
 * 404, 429 with Retry-After, 500, slow or truncated answers, malformed rows.
 *
 * Its data is a demo site (`DemoSite`) converted to Citrix entities by `citrixSiteFromDemo`, so
 * that what a source captures can be compared record by record with what the server held.
 *
 * @example
 * const site = new DemoSite(demoOptionsSchema.parse({ users: 50 }), 'Asia/Seoul');
 * const server = await startODataServer({
 *   data: citrixSiteFromDemo(site, site.between(since, until)),
 *   ntlm: { domain: 'CORP', user: 'svc-monitor', password: 'Secret-1' },
 * });
 * // source option url: server.onPremUrl
 * server.knobs.faults.push({ set: 'Sessions', page: 2, status: 500 });
 * await server.close();
 */
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type {
  DemoBatch,
  DemoSite,
} from '../../extensions/autologging/src/sources/demo/generator.ts';
import type { SessionRecord } from '../../extensions/autologging/src/records.ts';

// ---------------------------------------------------------------------------------------------
// Citrix entities

/** One OData entity: field names and values as the Monitor Service sends them. */
export type ODataRow = Record<string, unknown>;

/** A DesktopGroups entity (a delivery group). */
export interface CitrixDesktopGroup extends ODataRow {
  Id: string;
  Name: string;
  /** 0 desktops, 1 applications, 2 both. */
  DeliveryType: number;
  CreatedDate: string;
  ModifiedDate: string;
}

/** A Users entity. */
export interface CitrixUser extends ODataRow {
  Id: number;
  Sid: string;
  Upn: string;
  /** `DOMAIN\name` for even Ids, a bare name beside `Domain` for odd ones: Citrix sends both. */
  UserName: string;
  FullName: string;
  Domain: string;
  CreatedDate: string;
  ModifiedDate: string;
}

/** A Machines entity (a VDA). */
export interface CitrixMachine extends ODataRow {
  Id: string;
  /** `DOMAIN\HOST`. */
  Name: string;
  DnsName: string;
  IPAddress: string;
  HostedMachineName: string;
  CurrentRegistrationState: number;
  CurrentPowerState: number;
  FaultState: number;
  CurrentSessionCount: number;
  DesktopGroupId: string;
  CatalogId: string;
  CreatedDate: string;
  ModifiedDate: string;
}

/** A Connections entity: one client connection of a session. */
export interface CitrixConnection extends ODataRow {
  Id: number;
  SessionKey: string;
  ClientName: string | null;
  ClientAddress: string | null;
  ClientVersion: string | null;
  ClientPlatform: string | null;
  Protocol: string | null;
  IsReconnect: boolean;
  BrokeringDate: string;
  BrokeringDuration: number;
  LogOnStartDate: string;
  LogOnEndDate: string | null;
  DisconnectDate: string | null;
  EstablishmentDate: string | null;
  AuthenticationDuration: number;
  CreatedDate: string;
  ModifiedDate: string;
}

/** A Sessions entity. */
export interface CitrixSession extends ODataRow {
  SessionKey: string;
  StartDate: string | null;
  EndDate: string | null;
  FailureDate: string | null;
  ConnectionStateChangeDate: string | null;
  CreatedDate: string;
  ModifiedDate: string;
  LogOnDuration: number | null;
  ConnectionState: number;
  LifecycleState: number;
  SessionType: number;
  UserId: number | null;
  MachineId: string | null;
  CurrentConnectionId: number | null;
  ExitCode: number | null;
  /** The Id of the session's ConnectionFailureLogs entry, when it failed. */
  FailureId: number | null;
}

/** A ConnectionFailureLogs entity. */
export interface CitrixConnectionFailureLog extends ODataRow {
  Id: number;
  SessionKey: string;
  FailureDate: string;
  UserId: number | null;
  MachineId: string | null;
  /** A SessionFailureCode. */
  ConnectionFailureEnumValue: number;
  CreatedDate: string;
  ModifiedDate: string;
}

/** Everything the server holds, by entity set name (names are case-sensitive, as in Citrix). */
export interface CitrixSite {
  Sessions: CitrixSession[];
  Connections: CitrixConnection[];
  Users: CitrixUser[];
  Machines: CitrixMachine[];
  DesktopGroups: CitrixDesktopGroup[];
  ConnectionFailureLogs: CitrixConnectionFailureLog[];
}

/** An empty site: every set present, no rows. */
export function emptyCitrixSite(): CitrixSite {
  return {
    Sessions: [],
    Connections: [],
    Users: [],
    Machines: [],
    DesktopGroups: [],
    ConnectionFailureLogs: [],
  };
}

const STATE_CODES: Record<string, number> = {
  Unknown: 0,
  Connected: 1,
  Disconnected: 2,
  Terminated: 3,
  PreparingSession: 4,
  Active: 5,
  Reconnecting: 6,
  NonBrokeredSession: 7,
  Other: 8,
  Pending: 9,
};

/** When the Monitor Service last changed this session: its latest change by the record's time. */
export function demoModifiedAt(session: SessionRecord): number {
  const start = session.startAt ?? 0;
  return Math.max(
    start,
    start + (session.logonDurationMs ?? 0),
    session.stateChangedAt ?? 0,
    session.endAt ?? 0,
  );
}

/**
 * The session record a faithful source rebuilds from what `citrixSiteFromDemo` serves. Citrix
 * knows a session's delivery group only through its machine, so a launch that failed before a
 * machine was chosen (NoMachineAvailable) has none.
 */
export function citrixView(session: SessionRecord): SessionRecord {
  return session.machine === null ? { ...session, deliveryGroup: null } : session;
}

/**
 * The Citrix entities behind a demo site's window: every user, machine and delivery group of
 * `site`, and a session, a connection and (for a failed attempt) a connection failure per session
 * of `batch`. Sessions are as `batch` saw them; `ModifiedDate` is each one's latest change
 * (`demoModifiedAt`). A failed attempt has no StartDate or EndDate, only a FailureDate, and its
 * ConnectionFailureEnumValue is the demo's SessionFailureCode. Ids are stable for a given site.
 */
export function citrixSiteFromDemo(
  site: DemoSite,
  batch: Pick<DemoBatch, 'sessions'>,
  options: { upnSuffix?: string } = {},
): CitrixSite {
  const suffix = options.upnSuffix ?? 'corp.example';
  const domain = site.machines[0]?.name.split('\\')[0] ?? 'CORP';
  const created = iso(Date.UTC(2023, 0, 9, 9, 0));
  const out = emptyCitrixSite();

  const groupIds = new Map<string, string>();
  for (const machine of site.machines) {
    if (groupIds.has(machine.deliveryGroup)) continue;
    const id = guid(0xd6, groupIds.size + 1);
    groupIds.set(machine.deliveryGroup, id);
    out.DesktopGroups.push({
      Id: id,
      Name: machine.deliveryGroup,
      DeliveryType: /\bapps?\b/i.test(machine.deliveryGroup) ? 1 : 0,
      CreatedDate: created,
      ModifiedDate: created,
    });
  }

  const machineIds = new Map<string, string>();
  site.machines.forEach((machine, i) => {
    const id = guid(0x3a, i + 1);
    const host = machine.name.split('\\')[1] ?? machine.name;
    machineIds.set(machine.name, id);
    out.Machines.push({
      Id: id,
      Name: machine.name,
      DnsName: `${host.toLowerCase()}.${suffix}`,
      IPAddress: `10.30.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      HostedMachineName: host,
      CurrentRegistrationState: 1,
      CurrentPowerState: 3,
      FaultState: 1,
      CurrentSessionCount: 0,
      DesktopGroupId: groupIds.get(machine.deliveryGroup) as string,
      CatalogId: guid(0xca, 1),
      CreatedDate: created,
      ModifiedDate: created,
    });
  });

  const userIds = new Map<string, number>();
  const platforms = new Map<string, string>();
  for (const user of site.users) {
    const id = user.index + 1;
    userIds.set(user.account, id);
    platforms.set(user.account, user.clientPlatform);
    out.Users.push({
      Id: id,
      Sid: `S-1-5-21-1004336348-1177238915-682003330-${1100 + user.index}`,
      Upn: `${user.account}@${suffix}`,
      UserName: id % 2 === 0 ? `${domain}\\${user.account}` : user.account,
      FullName: user.fullName,
      Domain: domain,
      CreatedDate: created,
      ModifiedDate: created,
    });
  }

  batch.sessions.forEach((s, i) => {
    const failed = s.state === 'Failed';
    const start = s.startAt as number;
    const modified = iso(demoModifiedAt(s));
    const logonEnd = s.logonDurationMs === null ? null : iso(start + s.logonDurationMs);
    const userId = s.user === null ? null : (userIds.get(s.user) ?? null);
    const machineId = s.machine === null ? null : (machineIds.get(s.machine) ?? null);
    const failureId = failed ? out.ConnectionFailureLogs.length + 1 : null;

    out.Connections.push({
      Id: i + 1,
      SessionKey: s.key,
      ClientName: s.clientName,
      ClientAddress: s.clientAddress,
      ClientVersion: s.clientVersion,
      ClientPlatform: s.user === null ? null : (platforms.get(s.user) ?? null),
      Protocol: s.protocol,
      IsReconnect: false,
      BrokeringDate: iso(start),
      BrokeringDuration: 310,
      LogOnStartDate: iso(start),
      LogOnEndDate: logonEnd,
      DisconnectDate: s.state === 'Disconnected' ? iso(s.stateChangedAt as number) : null,
      EstablishmentDate: logonEnd,
      AuthenticationDuration: 120,
      CreatedDate: iso(start),
      ModifiedDate: modified,
    });
    out.Sessions.push({
      SessionKey: s.key,
      StartDate: failed ? null : iso(start),
      EndDate: failed || s.endAt === null ? null : iso(s.endAt),
      FailureDate: failed ? iso(start) : null,
      ConnectionStateChangeDate: s.stateChangedAt === null ? null : iso(s.stateChangedAt),
      CreatedDate: iso(start),
      ModifiedDate: modified,
      LogOnDuration: s.logonDurationMs,
      ConnectionState: failed ? STATE_CODES.Terminated! : (STATE_CODES[s.state] ?? 0),
      LifecycleState: 0,
      SessionType: s.sessionType === 'application' ? 1 : 0,
      UserId: userId,
      MachineId: machineId,
      CurrentConnectionId: i + 1,
      ExitCode: null,
      FailureId: failureId,
    });
    if (failed) {
      out.ConnectionFailureLogs.push({
        Id: failureId as number,
        SessionKey: s.key,
        FailureDate: iso(start),
        UserId: userId,
        MachineId: machineId,
        ConnectionFailureEnumValue: s.failureCode ?? 0,
        CreatedDate: iso(start),
        ModifiedDate: iso(start),
      });
    }
  });
  return out;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A GUID that encodes a kind byte and a number, so ids are readable in a failing test. */
function guid(kind: number, n: number): string {
  const k = kind.toString(16).padStart(2, '0');
  return `${k}000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// The server's interface

/** NTLM credentials the on-premises path accepts. */
export interface NtlmAccount {
  domain: string;
  user: string;
  password: string;
}

/** A Citrix Cloud API client the token endpoint accepts. */
export interface CloudClient {
  customerId: string;
  clientId: string;
  clientSecret: string;
}

/**
 * An answer that replaces the normal one for the requests it matches. Matching faults are
 * tried in order; each answers `times` requests (forever when absent), then is spent.
 */
export interface Fault {
  /** An entity set (`Sessions`) or `token` (the Cloud token endpoint); any request when absent. */
  set?: string;
  /** The page of the set, from 1; any page when absent. */
  page?: number;
  times?: number;
  /** Answer with this status and an OData error body. */
  status?: number;
  /** With `status`: the Retry-After header (seconds, or an HTTP date). */
  retryAfter?: string;
  /**
   * Send the page cut short: `body` sends a complete HTTP answer whose JSON stops half-way,
   * `connection` announces the whole length and drops the connection half-way.
   */
  truncate?: 'body' | 'connection';
  /** Answer only after this many milliseconds. */
  delayMs?: number;
}

/** The page about to be sent, for `editPage`. */
export interface PageContext {
  set: string;
  page: number;
  /** The JSON envelope: `value`, `@odata.nextLink`, `@odata.count`. Change it at will. */
  body: Record<string, unknown> & { value: ODataRow[] };
}

/** What a test can change while the server runs. */
export interface ODataKnobs {
  /** The largest page served; a smaller `Prefer: odata.maxpagesize` wins. */
  pageSize: number;
  faults: Fault[];
  /** Called with every data page before it is sent; make rows malformed here. */
  editPage: ((page: PageContext) => void) | null;
  /** Keep an NTLM-authenticated connection authenticated, as IIS does (default true). */
  ntlmPersist: boolean;
  /** The origin written into `@odata.nextLink` (a balancer's name); the request's host if null. */
  nextLinkOrigin: string | null;
  /** Answer a request that arrives while another is in progress with 429, as Citrix Cloud does. */
  rejectParallel: boolean;
}

/** One request as the server saw it. */
export interface LoggedRequest {
  method: string;
  path: string;
  /** The entity set, `token`, or null for anything else. */
  set: string | null;
  /** The page of the set, from 1 (by `$skip`). */
  page: number | null;
  /** The decoded query options: `$filter`, `$expand`… */
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** Which connection it came on, numbered from 1. */
  connection: number;
  /** The NTLM leg it carried, if any. */
  ntlm: 'negotiate' | 'authenticate' | null;
  status: number;
  /** `Date.now()` when it arrived and when its answer was done. */
  startedAt: number;
  endedAt: number;
}

/** The outcome of one NTLM authenticate message. */
export interface NtlmAttempt {
  connection: number;
  domain: string;
  user: string;
  workstation: string;
  /** Whether the answer was accepted. */
  accepted: boolean;
  /** Why not, when it was refused. */
  reason: string | null;
}

/** What `startODataServer` takes. */
export interface ODataServerOptions {
  data?: CitrixSite;
  /** Require NTLM on the on-premises path; open when absent. */
  ntlm?: NtlmAccount;
  /** Require Cloud tokens on `/monitorodata`; open when absent. */
  cloud?: CloudClient & { tokenLifetimeSeconds?: number };
  /** Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 and localhost. */
  tls?: boolean;
  /** Initial knobs; the rest take their defaults (page size 100). */
  knobs?: Partial<ODataKnobs>;
}

/** A running server. */
export interface ODataServer {
  /** `http://127.0.0.1:<port>` (or https). */
  origin: string;
  /** The on-premises service root: `<origin>/Citrix/Monitor/OData/v4/Data`. */
  onPremUrl: string;
  /** The Cloud API root: `<origin>/monitorodata`. */
  cloudApiUrl: string;
  /** The Cloud token endpoint for `customerId`. */
  tokenUrl(customerId: string): string;
  /** The data served; replace or change it between requests. */
  data: CitrixSite;
  knobs: ODataKnobs;
  /** Every request, in order of arrival. */
  requests: LoggedRequest[];
  ntlmAttempts: NtlmAttempt[];
  /** Tokens handed out by the Cloud token endpoint. */
  tokensIssued: number;
  /** The most requests that were in progress at once. */
  maxConcurrent: number;
  /** The certificate served, when `tls`. */
  certificate: string | null;
  /** Makes every Cloud token issued so far invalid, as if revoked. */
  revokeTokens(): void;
  /** Requests to `set` (default: every entity set). */
  dataRequests(set?: string): LoggedRequest[];
  /** Stops the server, dropping open connections. */
  close(): Promise<void>;
}

const ON_PREM_ROOT = '/Citrix/Monitor/OData/v4/Data';
const CLOUD_ROOT = '/monitorodata';
const MAX_BODY = 64 * 1024;

/** Navigation properties: the set they lead to and the keys that join them. */
const NAVIGATION: Record<
  string,
  Record<string, { set: keyof CitrixSite; from: string; to: string }>
> = {
  Sessions: {
    User: { set: 'Users', from: 'UserId', to: 'Id' },
    Machine: { set: 'Machines', from: 'MachineId', to: 'Id' },
    CurrentConnection: { set: 'Connections', from: 'CurrentConnectionId', to: 'Id' },
    Failure: { set: 'ConnectionFailureLogs', from: 'FailureId', to: 'Id' },
  },
  ConnectionFailureLogs: {
    User: { set: 'Users', from: 'UserId', to: 'Id' },
    Machine: { set: 'Machines', from: 'MachineId', to: 'Id' },
    Session: { set: 'Sessions', from: 'SessionKey', to: 'SessionKey' },
  },
  Connections: { Session: { set: 'Sessions', from: 'SessionKey', to: 'SessionKey' } },
  Machines: { DesktopGroup: { set: 'DesktopGroups', from: 'DesktopGroupId', to: 'Id' } },
  Users: {},
  DesktopGroups: {},
};

/** An OData error the server answers with (400 for a query it cannot read). */
class ODataError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * Starts the server on 127.0.0.1 at a free port. Paths: the on-premises service root
 * (`/Citrix/Monitor/OData/v4/Data/<Set>`, NTLM when `ntlm` is given), the Cloud API root
 * (`/monitorodata/<Set>`, token and `Citrix-CustomerId` checked when `cloud` is given), and the
 * Cloud token endpoint (`POST /cctrustoauth2/<customerId>/tokens/clients`).
 *
 * Query options understood: `$filter` (`Field op value` joined by `and`; ops eq ne gt ge lt le;
 * dates as unquoted UTC literals; a quoted date is refused with 400 as Citrix does), `$orderby`,
 * `$expand` (nested, e.g. `Session($expand=CurrentConnection)`), `$select`, `$top`, `$skip`,
 * `$count=true`, and the `Prefer: odata.maxpagesize=N` header.
 */
export async function startODataServer(options: ODataServerOptions = {}): Promise<ODataServer> {
  const connections = new WeakMap<Socket, Connection>();
  const tokens = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  let connectionCount = 0;
  let inFlight = 0;
  const tls = options.tls ? selfSignedCertificate(['127.0.0.1', 'localhost']) : null;

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    let connection = connections.get(socket);
    if (!connection) {
      connection = { id: ++connectionCount, challenge: null, user: null };
      connections.set(socket, connection);
    }
    const url = new URL(req.url ?? '/', 'http://placeholder');
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      set: null,
      page: null,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      connection: connection.id,
      ntlm: null,
      status: 0,
      startedAt: Date.now(),
      endedAt: 0,
    };
    server.requests.push(entry);

    inFlight++;
    server.maxConcurrent = Math.max(server.maxConcurrent, inFlight);
    res.on('close', () => {
      inFlight--;
      entry.endedAt = Date.now();
    });
    const send = (
      status: number,
      body: unknown,
      headers: Record<string, string | string[]> = {},
    ) => {
      entry.status = status;
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json; odata.metadata=minimal',
        'odata-version': '4.0',
        ...headers,
      });
      res.end(text);
    };

    if (inFlight > 1 && server.knobs.rejectParallel) {
      send(429, odataError('Too many requests: one call at a time'), { 'retry-after': '1' });
      return;
    }

    readBody(req)
      .then((body) => route(req, url, body, entry, connection, send, res))
      .catch((error: unknown) => {
        const status = error instanceof ODataError ? error.status : 500;
        if (!res.headersSent) send(status, odataError((error as Error).message));
      });
  };

  const route = async (
    req: http.IncomingMessage,
    url: URL,
    body: string,
    entry: LoggedRequest,
    connection: Connection,
    send: Sender,
    res: http.ServerResponse,
  ) => {
    const token = /^\/cctrustoauth2\/([^/]+)\/tokens\/clients$/.exec(url.pathname);
    if (token) {
      entry.set = 'token';
      if (await applyFault(entry, send)) return;
      issueToken(req, decodeURIComponent(token[1] as string), body, send);
      return;
    }

    let set: string;
    if (url.pathname.startsWith(`${ON_PREM_ROOT}/`)) {
      set = url.pathname.slice(ON_PREM_ROOT.length + 1);
      if (options.ntlm && !ntlmGate(req, entry, connection, send)) return;
    } else if (url.pathname.startsWith(`${CLOUD_ROOT}/`)) {
      set = url.pathname.slice(CLOUD_ROOT.length + 1);
      if (options.cloud && !cloudGate(req, send)) return;
    } else {
      send(404, odataError(`No HTTP resource was found that matches ${url.pathname}`));
      return;
    }

    entry.set = set;
    if (!Object.hasOwn(server.data, set)) {
      send(404, odataError(`No HTTP resource was found that matches the entity set ${set}`));
      return;
    }
    const prefer = /odata\.maxpagesize=(\d+)/.exec(String(req.headers.prefer ?? ''));
    const pageSize = Math.max(
      1,
      Math.min(server.knobs.pageSize, prefer ? Number(prefer[1]) : Infinity),
    );
    const skip = Number(url.searchParams.get('$skip') ?? 0);
    entry.page = Math.floor(skip / pageSize) + 1;
    if (await applyFault(entry, send, res, set)) return;

    const origin =
      server.knobs.nextLinkOrigin ?? `${server.origin.split(':')[0]}://${req.headers.host}`;
    const page = queryPage(server.data, set as keyof CitrixSite, url, pageSize, origin);
    server.knobs.editPage?.({ set, page: entry.page, body: page });
    const fault = takeFault(entry, (f) => f.truncate !== undefined);
    if (fault?.truncate) {
      truncate(res, entry, JSON.stringify(page), fault.truncate);
      return;
    }
    send(200, page);
  };

  /** Answers with the first matching status or delay fault; true when it answered. */
  const applyFault = async (
    entry: LoggedRequest,
    send: Sender,
    res?: http.ServerResponse,
    set?: string,
  ): Promise<boolean> => {
    const slow = takeFault(entry, (f) => f.delayMs !== undefined && f.status === undefined);
    if (slow?.delayMs) await pause(slow.delayMs, timers);
    if (res?.destroyed) return true;
    const fault = takeFault(entry, (f) => f.status !== undefined);
    if (!fault) return false;
    if (fault.delayMs) await pause(fault.delayMs, timers);
    const headers: Record<string, string> = fault.retryAfter
      ? { 'retry-after': fault.retryAfter }
      : {};
    send(fault.status as number, odataError(`fault injected for ${set ?? entry.set}`), headers);
    return true;
  };

  const takeFault = (entry: LoggedRequest, kind: (f: Fault) => boolean): Fault | null => {
    const faults = server.knobs.faults;
    const i = faults.findIndex(
      (f) =>
        kind(f) &&
        (f.set === undefined || f.set === entry.set) &&
        (f.page === undefined || f.page === entry.page) &&
        (f.times === undefined || f.times > 0),
    );
    if (i < 0) return null;
    const fault = faults[i] as Fault;
    if (fault.times !== undefined) fault.times--;
    return fault;
  };

  const ntlmGate = (
    req: http.IncomingMessage,
    entry: LoggedRequest,
    connection: Connection,
    send: Sender,
  ): boolean => {
    const account = options.ntlm as NtlmAccount;
    if (connection.user !== null && server.knobs.ntlmPersist) return true;
    const refuse = () =>
      send(401, odataError('Unauthorized'), { 'www-authenticate': ['Negotiate', 'NTLM'] });

    const header = /^(NTLM|Negotiate) ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
    const message = header ? Buffer.from(header[2] as string, 'base64') : null;
    if (!header || !message || message.subarray(0, 8).toString('latin1') !== 'NTLMSSP\0') {
      refuse();
      return false;
    }
    const type = message.length >= 12 ? message.readUInt32LE(8) : 0;
    if (type === 1) {
      entry.ntlm = 'negotiate';
      connection.challenge = crypto.randomBytes(8);
      const challenge = ntlmChallenge(connection.challenge, account.domain);
      send(401, odataError('Unauthorized'), {
        'www-authenticate': `${header[1]} ${challenge.toString('base64')}`,
      });
      return false;
    }
    if (type !== 3) {
      refuse();
      return false;
    }

    entry.ntlm = 'authenticate';
    const attempt = checkNtlmAuthenticate(message, connection.challenge, account);
    server.ntlmAttempts.push({ connection: connection.id, ...attempt });
    connection.challenge = null;
    if (!attempt.accepted) {
      refuse();
      return false;
    }
    connection.user = `${attempt.domain}\\${attempt.user}`;
    return true;
  };

  const cloudGate = (req: http.IncomingMessage, send: Sender): boolean => {
    const cloud = options.cloud as CloudClient;
    const bearer = /^CwsAuth Bearer=(\S+)$/.exec(req.headers.authorization ?? '');
    const expires = bearer ? tokens.get(bearer[1] as string) : undefined;
    if (expires === undefined || expires < Date.now()) {
      send(401, odataError('Invalid or expired bearer token'));
      return false;
    }
    if (req.headers['citrix-customerid'] !== cloud.customerId) {
      send(401, odataError('Citrix-CustomerId is missing or does not match the token'));
      return false;
    }
    return true;
  };

  const issueToken = (
    req: http.IncomingMessage,
    customerId: string,
    body: string,
    send: Sender,
  ) => {
    const cloud = options.cloud;
    if (!cloud || req.method !== 'POST') {
      send(405, odataError('POST client credentials here'));
      return;
    }
    const form = new URLSearchParams(body);
    const formEncoded = /application\/x-www-form-urlencoded/.test(
      req.headers['content-type'] ?? '',
    );
    if (
      !formEncoded ||
      customerId !== cloud.customerId ||
      form.get('grant_type') !== 'client_credentials' ||
      form.get('client_id') !== cloud.clientId ||
      form.get('client_secret') !== cloud.clientSecret
    ) {
      send(401, { error: 'invalid_client' });
      return;
    }
    const lifetime = cloud.tokenLifetimeSeconds ?? 3600;
    const token = crypto.randomBytes(24).toString('base64url');
    tokens.set(token, Date.now() + lifetime * 1000);
    server.tokensIssued++;
    // Citrix writes expires_in as text.
    send(200, { token_type: 'bearer', access_token: token, expires_in: String(lifetime) });
  };

  const server: ODataServer = {
    origin: '',
    onPremUrl: '',
    cloudApiUrl: '',
    tokenUrl: (customerId) => `${server.origin}/cctrustoauth2/${customerId}/tokens/clients`,
    data: options.data ?? emptyCitrixSite(),
    knobs: {
      pageSize: 100,
      faults: [],
      editPage: null,
      ntlmPersist: true,
      nextLinkOrigin: null,
      rejectParallel: true,
      ...options.knobs,
    },
    requests: [],
    ntlmAttempts: [],
    tokensIssued: 0,
    maxConcurrent: 0,
    certificate: tls?.cert ?? null,
    revokeTokens: () => tokens.clear(),
    dataRequests: (set) =>
      server.requests.filter((r) => r.set !== null && r.set !== 'token' && (!set || r.set === set)),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      listener.closeAllConnections();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };

  const listener = tls
    ? https.createServer({ key: tls.key, cert: tls.cert }, handle)
    : http.createServer(handle);
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as AddressInfo;
  server.origin = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  server.onPremUrl = `${server.origin}${ON_PREM_ROOT}`;
  server.cloudApiUrl = `${server.origin}${CLOUD_ROOT}`;
  return server;
}

interface Connection {
  id: number;
  /** The NTLM challenge sent on this connection and not yet answered. */
  challenge: Buffer | null;
  /** `DOMAIN\user` once NTLM authenticated this connection. */
  user: string | null;
}

type Sender = (status: number, body: unknown, headers?: Record<string, string | string[]>) => void;

function odataError(message: string) {
  return { error: { code: '', message } };
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) reject(new ODataError(413, 'request body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function pause(ms: number, timers: Set<NodeJS.Timeout>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      resolve();
    }, ms);
    timers.add(timer);
  });
}

function truncate(
  res: http.ServerResponse,
  entry: LoggedRequest,
  text: string,
  how: 'body' | 'connection',
): void {
  const bytes = Buffer.from(text, 'utf8');
  const half = bytes.subarray(0, Math.floor(bytes.length / 2));
  entry.status = 200;
  res.writeHead(200, {
    'content-type': 'application/json; odata.metadata=minimal',
    'content-length': String(how === 'body' ? half.length : bytes.length),
  });
  if (how === 'body') {
    res.end(half);
    return;
  }
  res.write(half, () => res.socket?.destroy());
}

// ---------------------------------------------------------------------------------------------
// Query options

interface Expansion {
  name: string;
  /** `$expand`, `$select` of the nested entity. */
  options: Record<string, string>;
}

function queryPage(
  data: CitrixSite,
  set: keyof CitrixSite,
  url: URL,
  pageSize: number,
  origin: string,
): PageContext['body'] {
  const params = url.searchParams;
  let rows = (data[set] as ODataRow[]).slice();
  const filter = params.get('$filter');
  if (filter) rows = rows.filter(compileFilter(filter));
  const orderby = params.get('$orderby');
  if (orderby) rows = sortRows(rows, orderby);

  const count = rows.length;
  const skip = wholeParam(params, '$skip') ?? 0;
  const top = wholeParam(params, '$top');
  const remaining = rows.slice(skip, top === null ? undefined : skip + top);
  const taken = remaining.slice(0, pageSize);
  const expand = parseExpand(params.get('$expand') ?? '');
  const select = params.get('$select');
  const lookup = joiner(data);
  const value = taken.map((row) => shape(lookup, set, row, expand, select));

  const body: PageContext['body'] = {
    '@odata.context': `${origin}${url.pathname.replace(/\/[^/]+$/, '')}/$metadata#${set}`,
    value,
  };
  if (params.get('$count') === 'true') body['@odata.count'] = count;
  if (remaining.length > taken.length) {
    const next = new URLSearchParams(params);
    next.set('$skip', String(skip + taken.length));
    if (top !== null) next.set('$top', String(top - taken.length));
    const query = [...next].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    body['@odata.nextLink'] = `${origin}${url.pathname}?${query}`;
  }
  return body;
}

function wholeParam(params: URLSearchParams, name: string): number | null {
  const text = params.get(name);
  if (text === null) return null;
  if (!/^\d+$/.test(text)) throw new ODataError(400, `${name} must be a whole number`);
  return Number(text);
}

type Lookup = (set: keyof CitrixSite, field: string, key: unknown) => ODataRow | undefined;

/** Finds the row of `set` whose `field` is `key`, indexing each (set, field) on first use. */
function joiner(data: CitrixSite): Lookup {
  const indexes = new Map<string, Map<unknown, ODataRow>>();
  return (set, field, key) => {
    let index = indexes.get(`${set}.${field}`);
    if (!index) {
      index = new Map();
      for (const row of data[set] as ODataRow[]) {
        if (!index.has(row[field])) index.set(row[field], row);
      }
      indexes.set(`${set}.${field}`, index);
    }
    return index.get(key);
  };
}

function shape(
  lookup: Lookup,
  set: keyof CitrixSite,
  row: ODataRow,
  expand: Expansion[],
  select: string | null,
): ODataRow {
  let out: ODataRow = { ...row };
  if (select) {
    out = {};
    for (const field of select.split(',').map((f) => f.trim())) {
      if (!Object.hasOwn(row, field))
        throw new ODataError(400, `Could not find a property named '${field}'`);
      out[field] = row[field];
    }
  }
  for (const nav of expand) {
    const link = NAVIGATION[set]?.[nav.name];
    if (!link) throw new ODataError(400, `Could not find a property named '${nav.name}' on ${set}`);
    const key = row[link.from];
    const target = key === null || key === undefined ? undefined : lookup(link.set, link.to, key);
    out[nav.name] = target
      ? shape(
          lookup,
          link.set,
          target,
          parseExpand(nav.options.$expand ?? ''),
          nav.options.$select ?? null,
        )
      : null;
  }
  return out;
}

/** `User,Session($expand=CurrentConnection;$select=Id)` → navigation properties and options. */
function parseExpand(text: string): Expansion[] {
  return splitTop(text, ',')
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const open = part.indexOf('(');
      if (open < 0) return { name: part.trim(), options: {} };
      if (!part.trimEnd().endsWith(')')) throw new ODataError(400, `$expand is malformed: ${part}`);
      const inner = part.trim().slice(open + 1, -1);
      const options: Record<string, string> = {};
      for (const option of splitTop(inner, ';')) {
        const eq = option.indexOf('=');
        if (eq < 0) throw new ODataError(400, `$expand option is malformed: ${option}`);
        options[option.slice(0, eq).trim()] = option.slice(eq + 1).trim();
      }
      return { name: part.slice(0, open).trim(), options };
    });
}

function splitTop(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

const DATE_LITERAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$/;

/** `ModifiedDate ge 2024-12-01T00:00:00Z and ModifiedDate lt …` as a row predicate. */
function compileFilter(filter: string): (row: ODataRow) => boolean {
  const clauses = filter
    .trim()
    .replace(/^\((.*)\)$/, '$1')
    .split(/\s+and\s+/i)
    .map((clause) => {
      const m = /^\(?\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*\)?$/i.exec(clause.trim());
      if (!m) throw new ODataError(400, `The query specified in the URI is not valid: ${clause}`);
      const [, field, op, literal] = m as unknown as [string, string, string, string];
      const isDateField = /Date$/.test(field);
      let value: unknown;
      if (literal === 'null') value = null;
      else if (DATE_LITERAL.test(literal)) value = Date.parse(literal);
      else if (/^-?\d+(\.\d+)?$/.test(literal)) value = Number(literal);
      else if (/^'.*'$/.test(literal)) {
        if (isDateField) {
          throw new ODataError(
            400,
            'A binary operator with incompatible types was detected. Found operand types ' +
              `'Edm.DateTimeOffset' and 'Edm.String' for operator kind '${op}'`,
          );
        }
        value = literal.slice(1, -1).replace(/''/g, "'");
      } else throw new ODataError(400, `Syntax error in $filter at '${literal}'`);
      return { field, op: op.toLowerCase(), value, isDateField };
    });

  return (row) =>
    clauses.every(({ field, op, value, isDateField }) => {
      let actual = row[field];
      if (isDateField && typeof actual === 'string') actual = Date.parse(actual);
      if (value === null || actual === null || actual === undefined) {
        return op === 'eq' ? actual == value : op === 'ne' ? actual != value : false;
      }
      const [a, b] = [actual as number | string, value as number | string];
      switch (op) {
        case 'eq':
          return a === b;
        case 'ne':
          return a !== b;
        case 'gt':
          return a > b;
        case 'ge':
          return a >= b;
        case 'lt':
          return a < b;
        default:
          return a <= b;
      }
    });
}

function sortRows(rows: ODataRow[], orderby: string): ODataRow[] {
  const keys = orderby.split(',').map((part) => {
    const [field, direction] = part.trim().split(/\s+/) as [string, string | undefined];
    return { field, sign: direction?.toLowerCase() === 'desc' ? -1 : 1 };
  });
  const value = (row: ODataRow, field: string) => {
    const v = row[field];
    return /Date$/.test(field) && typeof v === 'string' ? Date.parse(v) : v;
  };
  return rows
    .map((row, index) => ({ row, index }))
    .sort((x, y) => {
      for (const { field, sign } of keys) {
        const [a, b] = [value(x.row, field), value(y.row, field)] as [never, never];
        if (a === b) continue;
        if (a === null || a === undefined) return -sign;
        if (b === null || b === undefined) return sign;
        return a < b ? -sign : sign;
      }
      return x.index - y.index;
    })
    .map(({ row }) => row);
}

// ---------------------------------------------------------------------------------------------
// NTLM (server side)

const NTLM_FLAGS =
  (0x00000001 | // Unicode
    0x00000004 | // RequestTarget
    0x00000200 | // NTLM
    0x00008000 | // AlwaysSign
    0x00010000 | // TargetTypeDomain
    0x00080000 | // ExtendedSessionSecurity
    0x00800000 | // TargetInfo
    0x02000000 | // Version
    0x20000000 | // 128-bit
    0x80000000) >>> // 56-bit
  0;

/** A type 2 (challenge) message with target information, so the client answers with NTLMv2. */
function ntlmChallenge(challenge: Buffer, domain: string): Buffer {
  const utf16 = (s: string) => Buffer.from(s, 'utf16le');
  const pair = (id: number, value: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt16LE(id, 0);
    head.writeUInt16LE(value.length, 2);
    return Buffer.concat([head, value]);
  };
  const timestamp = Buffer.alloc(8);
  timestamp.writeBigUInt64LE((BigInt(Date.now()) + 11_644_473_600_000n) * 10_000n);
  const targetName = utf16(domain.toUpperCase());
  const targetInfo = Buffer.concat([
    pair(2, utf16(domain.toUpperCase())),
    pair(1, utf16('CTX-DDC01')),
    pair(4, utf16('corp.example')),
    pair(3, utf16('ctx-ddc01.corp.example')),
    pair(7, timestamp),
    pair(0, Buffer.alloc(0)),
  ]);

  const head = Buffer.alloc(56);
  head.write('NTLMSSP\0', 0, 'latin1');
  head.writeUInt32LE(2, 8);
  head.writeUInt16LE(targetName.length, 12);
  head.writeUInt16LE(targetName.length, 14);
  head.writeUInt32LE(56, 16);
  head.writeUInt32LE(NTLM_FLAGS, 20);
  challenge.copy(head, 24);
  head.writeUInt16LE(targetInfo.length, 40);
  head.writeUInt16LE(targetInfo.length, 42);
  head.writeUInt32LE(56 + targetName.length, 44);
  head.set([10, 0, 0x61, 0x4a, 0, 0, 0, 15], 48); // Windows 10.0.19041, NTLM revision 15
  return Buffer.concat([head, targetName, targetInfo]);
}

/**
 * Reads a type 3 (authenticate) message and checks it: user and domain (case-insensitive), and
 * the NTLMv2 proof against the password and the challenge sent on this connection.
 */
function checkNtlmAuthenticate(
  message: Buffer,
  challenge: Buffer | null,
  account: NtlmAccount,
): Omit<NtlmAttempt, 'connection'> {
  const field = (offset: number) => {
    if (message.length < offset + 8) return Buffer.alloc(0);
    const length = message.readUInt16LE(offset);
    const start = message.readUInt32LE(offset + 4);
    return message.subarray(start, start + length);
  };
  const flags = message.length >= 64 ? message.readUInt32LE(60) : 0;
  const text = (b: Buffer) => b.toString(flags & 1 ? 'utf16le' : 'latin1');
  const nt = field(20);
  const domain = text(field(28));
  const user = text(field(36));
  const workstation = text(field(44));
  const result = (accepted: boolean, reason: string | null) => ({
    domain,
    user,
    workstation,
    accepted,
    reason,
  });

  if (!challenge) return result(false, 'no challenge was sent on this connection');
  if (domain.toUpperCase() !== account.domain.toUpperCase()) return result(false, 'wrong domain');
  if (user.toUpperCase() !== account.user.toUpperCase()) return result(false, 'wrong user');
  if (nt.length <= 24) return result(false, 'NTLMv1 answer; NTLMv2 required');

  const hmac = (key: Buffer, data: Buffer) => crypto.createHmac('md5', key).update(data).digest();
  const ntHash = md4(Buffer.from(account.password, 'utf16le'));
  const key = hmac(ntHash, Buffer.from(user.toUpperCase() + domain, 'utf16le'));
  const expected = hmac(key, Buffer.concat([challenge, nt.subarray(16)]));
  return crypto.timingSafeEqual(expected, nt.subarray(0, 16))
    ? result(true, null)
    : result(false, 'wrong password');
}

/** MD4 (RFC 1320), which NTLM hashes passwords with and OpenSSL 3 no longer offers. */
export function md4(input: Buffer): Buffer {
  const length = Math.ceil((input.length + 9) / 64) * 64;
  const message = Buffer.alloc(length);
  input.copy(message);
  message[input.length] = 0x80;
  const bits = input.length * 8;
  message.writeUInt32LE(bits >>> 0, length - 8);
  message.writeUInt32LE(Math.floor(bits / 2 ** 32), length - 4);

  const rotl = (x: number, n: number) => (x << n) | (x >>> (32 - n));
  const f = (x: number, y: number, z: number) => (x & y) | (~x & z);
  const g = (x: number, y: number, z: number) => (x & y) | (x & z) | (y & z);
  const h = (x: number, y: number, z: number) => x ^ y ^ z;
  let [a, b, c, d] = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];

  for (let offset = 0; offset < length; offset += 64) {
    const x = Array.from({ length: 16 }, (_, i) => message.readInt32LE(offset + i * 4));
    const w = (i: number) => x[i] as number;
    const [aa, bb, cc, dd] = [a, b, c, d];
    for (const i of [0, 4, 8, 12]) {
      a = rotl((a + f(b, c, d) + w(i)) | 0, 3);
      d = rotl((d + f(a, b, c) + w(i + 1)) | 0, 7);
      c = rotl((c + f(d, a, b) + w(i + 2)) | 0, 11);
      b = rotl((b + f(c, d, a) + w(i + 3)) | 0, 19);
    }
    for (const i of [0, 1, 2, 3]) {
      a = rotl((a + g(b, c, d) + w(i) + 0x5a827999) | 0, 3);
      d = rotl((d + g(a, b, c) + w(i + 4) + 0x5a827999) | 0, 5);
      c = rotl((c + g(d, a, b) + w(i + 8) + 0x5a827999) | 0, 9);
      b = rotl((b + g(c, d, a) + w(i + 12) + 0x5a827999) | 0, 13);
    }
    for (const i of [0, 2, 1, 3]) {
      a = rotl((a + h(b, c, d) + w(i) + 0x6ed9eba1) | 0, 3);
      d = rotl((d + h(a, b, c) + w(i + 8) + 0x6ed9eba1) | 0, 9);
      c = rotl((c + h(d, a, b) + w(i + 4) + 0x6ed9eba1) | 0, 11);
      b = rotl((b + h(c, d, a) + w(i + 12) + 0x6ed9eba1) | 0, 15);
    }
    [a, b, c, d] = [(a + aa) | 0, (b + bb) | 0, (c + cc) | 0, (d + dd) | 0];
  }

  const out = Buffer.alloc(16);
  [a, b, c, d].forEach((word, i) => out.writeInt32LE(word, i * 4));
  return out;
}

// ---------------------------------------------------------------------------------------------
// A self-signed certificate, made with node:crypto alone

/**
 * A fresh ECDSA P-256 key and a self-signed X.509 v3 certificate for `hosts` (IP addresses or
 * DNS names), valid from an hour ago for a day, both PEM. Enough for a TLS test server; a client
 * that checks certificates refuses it as self-signed.
 */
export function selfSignedCertificate(hosts: readonly string[]): { key: string; cert: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const name = seq(set(seq(oid('2.5.4.3'), der(0x0c, Buffer.from(hosts[0] ?? 'localhost')))));
  const altNames = hosts.map((host) =>
    /^\d+\.\d+\.\d+\.\d+$/.test(host)
      ? der(0x87, Buffer.from(host.split('.').map(Number)))
      : der(0x82, Buffer.from(host, 'ascii')),
  );
  const now = Date.now();
  const signature = seq(oid('1.2.840.10045.4.3.2')); // ecdsa-with-SHA256
  const serial = crypto.randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;

  const tbs = seq(
    der(0xa0, integer(Buffer.from([2]))), // version 3
    integer(serial),
    signature,
    name,
    seq(utcTime(now - 3_600_000), utcTime(now + 86_400_000)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der(0xa3, seq(seq(oid('2.5.29.17'), der(0x04, seq(...altNames))))),
  );
  const signed = crypto.sign('sha256', tbs, privateKey);
  const certificate = seq(tbs, signature, der(0x03, Buffer.concat([Buffer.from([0]), signed])));

  const base64 = certificate.toString('base64').replace(/.{64}/g, '$&\n');
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: `-----BEGIN CERTIFICATE-----\n${base64.trimEnd()}\n-----END CERTIFICATE-----\n`,
  };
}

function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length =
    n < 0x80
      ? Buffer.from([n])
      : n < 0x100
        ? Buffer.from([0x81, n])
        : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

function seq(...parts: Buffer[]): Buffer {
  return der(0x30, Buffer.concat(parts));
}

function set(...parts: Buffer[]): Buffer {
  return der(0x31, Buffer.concat(parts));
}

function integer(bytes: Buffer): Buffer {
  return der(0x02, (bytes[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

function utcTime(ms: number): Buffer {
  const text = new Date(ms).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return der(0x17, Buffer.from(text, 'ascii'));
}
