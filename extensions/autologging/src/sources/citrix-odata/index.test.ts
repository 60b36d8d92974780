import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  citrixSiteFromDemo,
  citrixView,
  demoModifiedAt,
  startODataServer,
  type ODataServer,
  type ODataServerOptions,
} from '../../../../../tests/support/odata-server.ts';
import { AbortedError, SourceError } from '../../errors.ts';
import type { EventRecord, SessionRecord } from '../../records.ts';
import { DemoSite, type DemoBatch } from '../demo/generator.ts';
import { demoOptionsSchema } from '../demo/index.ts';
import type { CaptureResult, Source } from '../types.ts';
import { citrixODataSource, FAILURE_EXPAND, SESSION_EXPAND } from './index.ts';
import {
  byKind,
  CLOUD_CLIENT,
  cloudOptions,
  NTLM_ACCOUNT,
  onPremOptions,
  testContext,
} from './testing.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Tuesday 4 June 2024, midnight in Seoul, where the demo site works. */
const DAY = Date.parse('2024-06-04T00:00:00+09:00');
const live = new AbortController().signal;

const servers: ODataServer[] = [];
const sources: Source[] = [];

afterEach(async () => {
  for (const source of sources.splice(0)) await source.close();
  for (const server of servers.splice(0)) await server.close();
});

async function serve(options: ODataServerOptions): Promise<ODataServer> {
  const server = await startODataServer(options);
  servers.push(server);
  return server;
}

function create(...args: Parameters<typeof citrixODataSource.create>): Source {
  const source = citrixODataSource.create(...args);
  sources.push(source);
  return source;
}

/** A small site: about 190 sessions on the Tuesday up to `until`, a few failed. */
function smallSite(users = 200) {
  return new DemoSite(
    demoOptionsSchema.parse({ users, machines: 12, seed: 11, failureRate: 0.05 }),
    'Asia/Seoul',
  );
}

function failures(batch: DemoBatch, held: ReadonlySet<string>): Map<string, EventRecord> {
  const events = batch.events.filter((e) => e.type === 'failure' && held.has(e.sessionKey ?? ''));
  return new Map(events.map((e) => [e.key, e]));
}

/** The sessions by key, as the source can rebuild them from the Citrix entities. */
function sessionMap(sessions: readonly SessionRecord[]): Map<string, SessionRecord> {
  return new Map(sessions.map((s) => [s.key, citrixView(s)]));
}

/** An instant as the source writes it in `$filter`. */
function literal(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** The highest ModifiedDate among `sessions`, as the cursor writes it. */
function newest(sessions: readonly SessionRecord[]): string {
  return new Date(Math.max(...sessions.map(demoModifiedAt))).toISOString();
}

describe('citrixODataSource', () => {
  it('registers as kind citrix-odata, every ten minutes by default', () => {
    expect(citrixODataSource.kind).toBe('citrix-odata');
    expect(citrixODataSource.defaultSchedule).toBe('*/10 * * * *');
    expect(citrixODataSource.platforms).toBeUndefined();
  });
});

describe('a capture of 10,000 sessions over 5 pages', () => {
  const until = DAY + 19 * HOUR;
  let site: DemoSite;
  let batch: DemoBatch;
  let held: SessionRecord[];

  beforeAll(() => {
    site = new DemoSite(
      demoOptionsSchema.parse({ users: 10_600, machines: 60, seed: 7 }),
      'Asia/Seoul',
    );
    batch = site.between(DAY, until);
    held = batch.sessions.slice(0, 10_000);
  });

  it('stores exactly the sessions and failures the server held, then only duplicates', async () => {
    expect(batch.sessions.length).toBeGreaterThanOrEqual(10_000);
    const server = await serve({
      data: citrixSiteFromDemo(site, { sessions: held }),
      ntlm: NTLM_ACCOUNT,
      knobs: { pageSize: 2000 },
    });
    const { context, clock } = testContext(until + 10 * MINUTE);
    const source = create(onPremOptions(server, { pageSize: 2000 }), context);

    await source.open(live);
    const first = await source.capture(null, live);
    const got = byKind(first.records);

    expect(first.rejected).toBeUndefined();
    expect(first.more).toBeUndefined();
    expect(got.sessions.size).toBe(10_000);
    for (const expected of held)
      expect(got.sessions.get(expected.key)).toEqual(citrixView(expected));
    const heldFailures = failures(batch, new Set(held.map((s) => s.key)));
    expect(heldFailures.size).toBeGreaterThan(50);
    expect(got.events).toEqual(heldFailures);
    expect(first.cursor).toBe(newest(held));

    const pages = server.dataRequests('Sessions');
    expect(pages.map((r) => [r.page, r.status])).toEqual([1, 2, 3, 4, 5].map((p) => [p, 200]));
    expect(pages[0]?.query).toEqual({
      $filter: `ModifiedDate ge ${literal(until + 10 * MINUTE - 24 * HOUR)}`,
      $orderby: 'ModifiedDate',
      $expand: SESSION_EXPAND,
    });
    expect(server.dataRequests('ConnectionFailureLogs')[0]?.query.$expand).toBe(FAILURE_EXPAND);

    clock.now += 10 * MINUTE;
    const second = await source.capture(first.cursor, live);
    expect(second.records.length).toBeGreaterThan(0);
    expect(second.records.length).toBeLessThan(1000);
    for (const record of second.records) {
      const before =
        record.kind === 'session' ? got.sessions.get(record.key) : got.events.get(record.key);
      expect(record).toEqual(before);
    }
    expect(second.cursor).toBe(first.cursor);
    expect(server.dataRequests('Sessions').at(-1)?.query.$filter).toBe(
      `ModifiedDate ge ${literal(Date.parse(first.cursor as string) - 5 * MINUTE)}`,
    );
  });
});

describe('incremental capture', () => {
  it('brings a session back, updated, once it has ended', async () => {
    const site = smallSite();
    const t1 = DAY + 14 * HOUR;
    const t2 = DAY + 21 * HOUR;
    const server = await serve({
      data: citrixSiteFromDemo(site, site.between(DAY, t1)),
      ntlm: NTLM_ACCOUNT,
    });
    const { context, clock } = testContext(t1 + MINUTE);
    const source = create(onPremOptions(server, { backfillHours: 16 }), context);

    const first = await source.capture(null, live);
    server.data = citrixSiteFromDemo(site, site.between(DAY, t2));
    clock.now = t2 + MINUTE;
    const second = await source.capture(first.cursor, live);

    const merged = new Map(byKind(first.records).sessions);
    for (const [key, s] of byKind(second.records).sessions) merged.set(key, s);
    expect(merged).toEqual(sessionMap(site.between(DAY, t2).sessions));
    const ended = [...byKind(second.records).sessions.values()].filter(
      (s) => s.state === 'Terminated',
    );
    expect(ended.length).toBeGreaterThan(100);
  });

  it('reads a long backfill in parts of a day, each resuming where the last ended', async () => {
    const site = smallSite(60);
    const until = DAY + 12 * HOUR;
    const whole = site.between(DAY - 2 * 24 * HOUR, until);
    const server = await serve({ data: citrixSiteFromDemo(site, whole), ntlm: NTLM_ACCOUNT });
    const { context } = testContext(until);
    const source = create(onPremOptions(server, { backfillHours: 60 }), context);

    const parts: CaptureResult[] = [];
    let cursor: string | null = null;
    do {
      const part = await source.capture(cursor, live);
      parts.push(part);
      cursor = part.cursor;
    } while (parts.at(-1)?.more && parts.length < 10);

    expect(parts.map((p) => p.more ?? false)).toEqual([true, true, false]);
    expect(parts[0]?.cursor).toBe(new Date(until - 60 * HOUR + 24 * HOUR).toISOString());
    expect(server.dataRequests('Sessions')[0]?.query.$filter).toMatch(/ and ModifiedDate lt /);
    const merged = new Map<string, SessionRecord>();
    for (const part of parts) for (const [k, s] of byKind(part.records).sessions) merged.set(k, s);
    expect(merged).toEqual(sessionMap(whole.sessions));
  });

  it('captures a past window by ModifiedDate without using or moving the cursor', async () => {
    const site = smallSite(80);
    const whole = site.between(DAY, DAY + 20 * HOUR);
    const server = await serve({ data: citrixSiteFromDemo(site, whole), ntlm: NTLM_ACCOUNT });
    const { context } = testContext(DAY + 20 * HOUR);
    const source = create(onPremOptions(server), context);

    const window = { since: DAY + 17 * HOUR, until: DAY + 18 * HOUR };
    const result = await source.capture(null, live, window);

    const inWindow = whole.sessions.filter((s) => {
      const at = demoModifiedAt(s);
      return at > window.since && at <= window.until;
    });
    expect(inWindow.length).toBeGreaterThan(5);
    expect(byKind(result.records).sessions).toEqual(sessionMap(inWindow));
    expect(result.cursor).toBe(String(window.until));
    expect(result.more).toBeUndefined();
    expect(server.dataRequests('Sessions')[0]?.query.$filter).toBe(
      'ModifiedDate gt 2024-06-04T08:00:00Z and ModifiedDate le 2024-06-04T09:00:00Z',
    );
  });

  it('refuses a cursor that is not a time, naming the source', async () => {
    const { context } = testContext(DAY);
    const source = create(onPremOptions({ onPremUrl: 'http://127.0.0.1:9' }), context);
    await expect(source.capture('12345', live)).rejects.toMatchObject({
      code: 'ECURSOR',
      source: 'ctx-site',
    });
  });

  it('follows a next link that names another host on the configured one', async () => {
    const site = smallSite(60);
    const batch = site.between(DAY, DAY + 12 * HOUR);
    const server = await serve({
      data: citrixSiteFromDemo(site, batch),
      ntlm: NTLM_ACCOUNT,
      knobs: { pageSize: 20, nextLinkOrigin: 'http://ddc-internal.corp.example' },
    });
    const { context, log } = testContext(DAY + 12 * HOUR);
    const result = await create(onPremOptions(server), context).capture(null, live);

    expect(result.rejected).toBeUndefined();
    expect(byKind(result.records).sessions).toEqual(sessionMap(batch.sessions));
    expect(log.entries.filter((e) => e.message.includes('@odata.nextLink'))).toHaveLength(1);
  });
});

describe('authentication', () => {
  const site = smallSite(40);
  const until = DAY + 12 * HOUR;
  const data = () => citrixSiteFromDemo(site, site.between(DAY, until));

  it('does the NTLM handshake on one kept-alive connection, then stays signed in', async () => {
    const server = await serve({ data: data(), ntlm: NTLM_ACCOUNT, knobs: { pageSize: 10 } });
    const { context } = testContext(until);
    const result = await create(onPremOptions(server), context).capture(null, live);

    expect(result.rejected).toBeUndefined();
    expect(byKind(result.records).sessions.size).toBe(site.between(DAY, until).sessions.length);
    expect(server.ntlmAttempts).toEqual([
      expect.objectContaining({ domain: 'CORP', user: 'svc-autologging', accepted: true }),
    ]);
    const negotiate = server.requests.find((r) => r.ntlm === 'negotiate');
    expect(server.ntlmAttempts[0]?.connection).toBe(negotiate?.connection);
    expect(new Set(server.requests.map((r) => r.connection)).size).toBe(1);
    expect(server.dataRequests('Sessions').length).toBeGreaterThan(3);
  });

  it('authenticates again when the server does not keep connections authenticated', async () => {
    const server = await serve({ data: data(), ntlm: NTLM_ACCOUNT, knobs: { ntlmPersist: false } });
    const { context } = testContext(until);
    const source = create(
      onPremOptions(server, { user: 'CORP\\svc-autologging', domain: '' }),
      context,
    );
    const result = await source.capture(null, live);

    expect(result.rejected).toBeUndefined();
    expect(server.ntlmAttempts.length).toBe(
      server.dataRequests().filter((r) => r.status === 200).length,
    );
    expect(server.ntlmAttempts.every((a) => a.accepted)).toBe(true);
  });

  it('throws EAUTH on a wrong password, with neither password in the message', async () => {
    const server = await serve({ data: data(), ntlm: NTLM_ACCOUNT });
    const { context, log } = testContext(until);
    const source = create(onPremOptions(server, { password: 'Wrong-Pa55word!' }), context);
    const error = await source.capture(null, live).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ code: 'EAUTH', source: 'ctx-site' });
    expect((error as Error).message).toMatch(
      /DesktopGroups page 1: .*HTTP 401.*check domain, user and password/,
    );
    expect(server.ntlmAttempts[0]).toMatchObject({ accepted: false, reason: 'wrong password' });
    const said = JSON.stringify([(error as Error).message, log.entries]);
    expect(said).not.toContain('Wrong-Pa55word!');
    expect(said).not.toContain(NTLM_ACCOUNT.password);
  });

  it('reads Citrix Cloud with a client-credentials token and the customer header', async () => {
    const server = await serve({ data: data(), cloud: CLOUD_CLIENT });
    const { context } = testContext(until);
    const result = await create(cloudOptions(server), context).capture(null, live);

    expect(result.rejected).toBeUndefined();
    expect(byKind(result.records).sessions).toEqual(sessionMap(site.between(DAY, until).sessions));
    expect(server.tokensIssued).toBe(1);
    const [token, ...calls] = server.requests;
    expect(token).toMatchObject({ method: 'POST', set: 'token', status: 200 });
    for (const call of calls) {
      expect(call.headers.authorization).toMatch(/^CwsAuth Bearer=\S+$/);
      expect(call.headers['citrix-customerid']).toBe(CLOUD_CLIENT.customerId);
    }
  });

  it('renews the token five minutes before its hour runs out, not earlier', async () => {
    const server = await serve({ data: data(), cloud: CLOUD_CLIENT });
    const { context, clock } = testContext(until);
    const source = create(cloudOptions(server), context);

    await source.capture(null, live);
    clock.now += 54 * MINUTE;
    await source.capture(null, live);
    expect(server.tokensIssued).toBe(1);
    clock.now += 2 * MINUTE;
    await source.capture(null, live);
    expect(server.tokensIssued).toBe(2);
  });

  it('gets a new token once when the API refuses the current one', async () => {
    const server = await serve({ data: data(), cloud: CLOUD_CLIENT });
    const { context } = testContext(until);
    const source = create(cloudOptions(server), context);

    await source.capture(null, live);
    server.revokeTokens();
    const result = await source.capture(null, live);
    expect(result.rejected).toBeUndefined();
    expect(server.tokensIssued).toBe(2);
  });

  it('throws EAUTH when the token endpoint refuses the client, hiding the secret', async () => {
    const server = await serve({ data: data(), cloud: CLOUD_CLIENT });
    const { context, log } = testContext(until);
    const source = create(cloudOptions(server, { clientSecret: 'not-the-secret' }), context);
    const error = await source.capture(null, live).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'EAUTH' });
    expect((error as Error).message).toMatch(
      /token endpoint .* refused the API client \(HTTP 401\)/,
    );
    expect(JSON.stringify([(error as Error).message, log.entries])).not.toContain('not-the-secret');
  });

  it('throws the network code when the first request cannot reach the server', async () => {
    const server = await serve({});
    const url = server.onPremUrl;
    await server.close();
    const { context } = testContext(until);
    await expect(
      create(onPremOptions({ onPremUrl: url }), context).capture(null, live),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED', source: 'ctx-site' });
  });
});

describe('throttling', () => {
  const site = smallSite(40);
  const until = DAY + 12 * HOUR;

  it('waits out HTTP 429 (seconds or a date) and retries, never in parallel', async () => {
    const server = await serve({
      data: citrixSiteFromDemo(site, site.between(DAY, until)),
      cloud: CLOUD_CLIENT,
      knobs: {
        faults: [
          { set: 'Sessions', status: 429, retryAfter: '1', times: 1 },
          {
            set: 'Sessions',
            status: 429,
            retryAfter: new Date(until + 1000).toUTCString(),
            times: 1,
          },
        ],
      },
    });
    const { context } = testContext(until);
    const result = await create(cloudOptions(server), context).capture(null, live);

    expect(result.rejected).toBeUndefined();
    const calls = server.dataRequests('Sessions');
    expect(calls.map((c) => c.status)).toEqual([429, 429, 200]);
    expect(calls[1]!.startedAt - calls[0]!.endedAt).toBeGreaterThanOrEqual(950);
    expect(calls[2]!.startedAt - calls[1]!.endedAt).toBeGreaterThanOrEqual(950);
    expect(server.maxConcurrent).toBe(1);
  });

  it('gives up with ETHROTTLED when the server never lets it in', async () => {
    const server = await serve({
      data: citrixSiteFromDemo(site, site.between(DAY, until)),
      cloud: CLOUD_CLIENT,
      knobs: { faults: [{ set: 'ConnectionFailureLogs', status: 429, retryAfter: '0' }] },
    });
    const { context } = testContext(until);
    const result = await create(cloudOptions(server), context).capture(null, live);

    expect(result.rejected).toEqual([
      {
        code: 'ETHROTTLED',
        message: expect.stringMatching(
          /^source ctx-site: ConnectionFailureLogs page 1: .*429.* after 8 waits$/,
        ),
      },
    ]);
    expect(server.dataRequests('ConnectionFailureLogs')).toHaveLength(9);
    expect(byKind(result.records).sessions.size).toBeGreaterThan(0);
  });
});

describe('bad responses', () => {
  const site = smallSite(200);
  const until = DAY + 20 * HOUR;
  const batch = site.between(DAY, until);
  const ordered = [...batch.sessions].sort((a, b) => demoModifiedAt(a) - demoModifiedAt(b));

  async function captureWith(knobs: ODataServerOptions['knobs']) {
    const server = await serve({
      data: citrixSiteFromDemo(site, batch),
      ntlm: NTLM_ACCOUNT,
      knobs,
    });
    const { context, log } = testContext(until + MINUTE);
    const source = create(onPremOptions(server, { pageSize: 50 }), context);
    const result = await source.capture(null, live);
    return { server, result, source, log };
  }

  it.each([
    ['HTTP 500', { status: 500 }, /Sessions page 3: 127\.0\.0\.1:\d+ answered HTTP 500$/],
    [
      'a truncated body',
      { truncate: 'body' as const },
      /Sessions page 3: the response is not valid JSON/,
    ],
    [
      'a dropped connection',
      { truncate: 'connection' as const },
      /Sessions page 3: the response was cut off/,
    ],
  ])('keeps the pages before %s and stops the cursor at their end', async (_, fault, message) => {
    const { server, result, source } = await captureWith({
      pageSize: 50,
      faults: [{ set: 'Sessions', page: 3, times: 1, ...fault }],
    });

    const read = ordered.slice(0, 100);
    expect(byKind(result.records).sessions).toEqual(sessionMap(read));
    expect(byKind(result.records).events.size).toBeGreaterThan(0);
    expect(result.rejected).toEqual([
      { code: 'EBADRESPONSE', message: expect.stringMatching(message) },
    ]);
    expect(result.rejected?.[0]?.message).toMatch(/^source ctx-site: /);
    expect(result.cursor).toBe(newest(read));

    // The next capture resumes there and reads the rest.
    const next = await source.capture(result.cursor, live);
    const merged = new Map([...byKind(result.records).sessions, ...byKind(next.records).sessions]);
    expect(next.rejected).toBeUndefined();
    expect(merged).toEqual(sessionMap(batch.sessions));
    expect(
      server.requests.every((r) => !/password|secret/i.test(r.path + JSON.stringify(r.query))),
    ).toBe(true);
  });

  it('rejects malformed rows by source, request and field, keeping the others', async () => {
    const personal = new Set<string>();
    const { result, log } = await captureWith({
      pageSize: 50,
      editPage: ({ set, page, body }) => {
        if (set !== 'Sessions' || page !== 2) return;
        const rows = body.value as Record<string, any>[];
        for (const i of [3, 5, 7, 9]) {
          const user = rows[i]!.User;
          personal.add(user.FullName).add(rows[i]!.CurrentConnection.ClientName);
          personal.add(rows[i]!.CurrentConnection.ClientAddress).add(String(user.UserName));
        }
        rows[3]!.StartDate = 'Tuesday morning';
        rows[5]!.ConnectionState = 'Active';
        delete rows[7]!.SessionKey;
        rows[9]!.User.FullName = rows[9]!.User.FullName.repeat(10_000);
      },
    });

    const bad = new Set([3, 5, 7, 9].map((i) => ordered[50 + i]!.key));
    const good = ordered.filter((s) => !bad.has(s.key));
    expect(byKind(result.records).sessions).toEqual(sessionMap(good));
    expect(result.rejected).toEqual([
      {
        code: 'EBADRECORD',
        message: expect.stringMatching(
          /^source ctx-site: Sessions page 2, row 4 \(SessionKey [\da-f-]{36}\): StartDate is not/,
        ),
      },
      {
        code: 'EBADRECORD',
        message: expect.stringMatching(
          /Sessions page 2, row 6 .*: ConnectionState must be a whole number, not text$/,
        ),
      },
      {
        code: 'EBADRECORD',
        message: 'source ctx-site: Sessions page 2, row 8: SessionKey is missing',
      },
      {
        code: 'EBADRECORD',
        message: expect.stringMatching(
          /Sessions page 2, row 10 .*: User\.FullName is longer than 512 characters$/,
        ),
      },
    ]);
    expect(result.cursor).toBe(new Date(demoModifiedAt(ordered[53]!)).toISOString());

    const said = JSON.stringify([result.rejected, log.entries]);
    for (const value of personal) expect(said).not.toContain(value.slice(0, 12));
  });

  it('rejects a page whose envelope is wrong and keeps what came before', async () => {
    const { result } = await captureWith({
      pageSize: 50,
      editPage: ({ set, page, body }) => {
        if (set === 'Sessions' && page === 2) (body as Record<string, unknown>).value = 'none';
      },
    });
    expect(byKind(result.records).sessions.size).toBe(50);
    expect(result.rejected).toEqual([
      {
        code: 'EBADRESPONSE',
        message: "source ctx-site: Sessions page 2: the response's value is text, not a list",
      },
    ]);
    expect(result.cursor).toBe(newest(ordered.slice(0, 50)));
  });

  it('never logs or reports a secret', async () => {
    const server = await serve({ data: citrixSiteFromDemo(site, batch), cloud: CLOUD_CLIENT });
    const { context, log } = testContext(until);
    const source = create(cloudOptions(server), context);
    server.knobs.faults.push({ set: 'Sessions', page: 1, status: 500 });
    const result = await source.capture(null, live);
    await source.test?.(live);

    const tokens = server.requests.map((r) => String(r.headers.authorization ?? '').split('=')[1]);
    const said = JSON.stringify([result.rejected, log.entries, String(source)]);
    for (const secret of [CLOUD_CLIENT.clientSecret, ...tokens.filter(Boolean)]) {
      expect(said).not.toContain(secret);
    }
    expect(log.entries.length).toBeGreaterThan(0);
  });
});

describe('stopping', () => {
  it('throws AbortedError when the signal fires during a request', async () => {
    const site = smallSite(20);
    const server = await serve({
      data: citrixSiteFromDemo(site, site.between(DAY, DAY + 12 * HOUR)),
      ntlm: NTLM_ACCOUNT,
      knobs: { faults: [{ set: 'Sessions', delayMs: 5000 }] },
    });
    const { context } = testContext(DAY + 12 * HOUR);
    const controller = new AbortController();
    const capture = create(onPremOptions(server), context).capture(null, controller.signal);
    setTimeout(() => controller.abort(), 100);
    await expect(capture).rejects.toBeInstanceOf(AbortedError);
  });
});
