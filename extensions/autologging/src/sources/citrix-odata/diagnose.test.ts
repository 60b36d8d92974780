import { afterEach, describe, expect, it } from 'vitest';
import {
  citrixSiteFromDemo,
  demoModifiedAt,
  emptyCitrixSite,
  startODataServer,
  type ODataServer,
  type ODataServerOptions,
} from '../../../../../tests/support/odata-server.ts';
import { DemoSite } from '../demo/generator.ts';
import { demoOptionsSchema } from '../demo/index.ts';
import type { Diagnosis, Source } from '../types.ts';
import type { CitrixODataOptions } from './options.ts';
import { citrixODataSource } from './index.ts';
import { CLOUD_CLIENT, cloudOptions, NTLM_ACCOUNT, onPremOptions, testContext } from './testing.ts';

const DAY = Date.parse('2024-06-04T00:00:00+09:00');
const UNTIL = DAY + 12 * 3_600_000;
const live = new AbortController().signal;
const site = new DemoSite(demoOptionsSchema.parse({ users: 30, seed: 5 }), 'Asia/Seoul');
const batch = site.between(DAY, UNTIL);

const servers: ODataServer[] = [];
const sources: Source[] = [];

afterEach(async () => {
  for (const source of sources.splice(0)) await source.close();
  for (const server of servers.splice(0)) await server.close();
});

async function serve(options: ODataServerOptions = {}): Promise<ODataServer> {
  const server = await startODataServer({
    data: citrixSiteFromDemo(site, batch),
    ntlm: NTLM_ACCOUNT,
    ...options,
  });
  servers.push(server);
  return server;
}

async function diagnose(options: CitrixODataOptions, signal = live): Promise<Diagnosis> {
  const { context, log } = testContext(UNTIL);
  const source = citrixODataSource.create(options, context);
  sources.push(source);
  const diagnosis = await (source.test as (s: AbortSignal) => Promise<Diagnosis>)(signal);
  // A diagnosis is returned, not logged, and never holds a secret.
  const said = JSON.stringify([diagnosis, log.entries]);
  for (const secret of [NTLM_ACCOUNT.password, CLOUD_CLIENT.clientSecret]) {
    expect(said).not.toContain(secret);
  }
  return diagnosis;
}

describe('test()', () => {
  it('says OK with the number of sessions and the latest one, personal fields masked', async () => {
    const server = await serve();
    const diagnosis = await diagnose(onPremOptions(server));

    const latest = batch.sessions.reduce((a, b) =>
      demoModifiedAt(a) >= demoModifiedAt(b) ? a : b,
    );
    expect(diagnosis).toMatchObject({ ok: true, code: 'OK', count: batch.sessions.length });
    expect(diagnosis.message).toMatch(/^connected to 127\.0\.0\.1:\d+: \d+ sessions recorded/);
    expect(diagnosis.sample).toMatchObject({
      kind: 'session',
      user: '***',
      fullName: '***',
      clientName: '***',
      clientAddress: '***',
      machine: expect.stringMatching(/^CORP\\VDA-/),
      domain: 'CORP',
    });
    expect(diagnosis.sample?.key).toBe(latest.key);
    expect(server.dataRequests('Sessions')[0]?.query).toMatchObject({ $top: '1', $count: 'true' });
  });

  it('says OK through Citrix Cloud too', async () => {
    const server = await serve({ ntlm: undefined, cloud: CLOUD_CLIENT });
    expect(await diagnose(cloudOptions(server))).toMatchObject({ ok: true, code: 'OK' });
  });

  it('says ENODATA when the Monitor Service holds no sessions yet', async () => {
    const server = await serve({ data: emptyCitrixSite() });
    expect(await diagnose(onPremOptions(server))).toEqual({
      ok: true,
      code: 'ENODATA',
      message: expect.stringMatching(/holds no sessions yet/),
      count: 0,
    });
  });

  it('says ENOTFOUND when the controller’s name does not resolve', async () => {
    const diagnosis = await diagnose(onPremOptions({ onPremUrl: 'http://nonexistent.invalid' }));
    expect(diagnosis).toMatchObject({ ok: false, code: 'ENOTFOUND' });
    expect(diagnosis.message).toMatch(/nonexistent\.invalid could not be resolved/);
  });

  it('says ECONNREFUSED when nothing listens on the port', async () => {
    const server = await serve();
    const url = server.onPremUrl;
    await server.close();
    const diagnosis = await diagnose(onPremOptions({ onPremUrl: url }));
    expect(diagnosis).toMatchObject({ ok: false, code: 'ECONNREFUSED' });
    expect(diagnosis.message).toMatch(/127\.0\.0\.1:\d+ refused the connection/);
  });

  it('says ETLS for a self-signed certificate, and connects when checks are off', async () => {
    const server = await serve({ tls: true });
    const refused = await diagnose(onPremOptions(server));
    expect(refused).toMatchObject({ ok: false, code: 'ETLS' });
    expect(refused.message).toMatch(
      /TLS connection to 127\.0\.0\.1:\d+ failed \(\w*SELF_SIGNED\w*\)/,
    );

    const relaxed = await diagnose(onPremOptions(server, { rejectUnauthorized: false }));
    expect(relaxed).toMatchObject({ ok: true, code: 'OK' });
  });

  it('says EAUTH when the controller refuses the password', async () => {
    const server = await serve();
    const diagnosis = await diagnose(onPremOptions(server, { password: 'Wrong-Pa55word!' }));
    expect(diagnosis).toMatchObject({ ok: false, code: 'EAUTH' });
    expect(diagnosis.message).toMatch(/HTTP 401.*check domain, user and password/);
    expect(diagnosis.message).not.toContain('Wrong-Pa55word!');
  });

  it('says EAUTH when Citrix Cloud refuses the API client', async () => {
    const server = await serve({ ntlm: undefined, cloud: CLOUD_CLIENT });
    const diagnosis = await diagnose(cloudOptions(server, { clientId: 'someone-else' }));
    expect(diagnosis).toMatchObject({ ok: false, code: 'EAUTH' });
    expect(diagnosis.message).toMatch(/check customerId, clientId, clientSecret/);
  });

  it('says EFORBIDDEN when the account may not read monitoring data', async () => {
    const server = await serve({ knobs: { faults: [{ status: 403 }] } });
    const diagnosis = await diagnose(onPremOptions(server));
    expect(diagnosis).toMatchObject({ ok: false, code: 'EFORBIDDEN' });
    expect(diagnosis.message).toMatch(/HTTP 403/);
  });

  it('says ENOENTITYSET when the URL is not the v4 service root', async () => {
    const server = await serve();
    const wrong = { onPremUrl: `${server.origin}/Citrix/Monitor/OData/v3/Data` };
    const diagnosis = await diagnose(onPremOptions(wrong));
    expect(diagnosis).toMatchObject({ ok: false, code: 'ENOENTITYSET' });
    expect(diagnosis.message).toMatch(/OData\/v3\/Data\/DesktopGroups was not found \(HTTP 404\)/);
  });

  it('says ETIMEOUT when the server does not answer in time', async () => {
    const server = await serve({ knobs: { faults: [{ delayMs: 5000 }] } });
    const diagnosis = await diagnose(onPremOptions(server, { requestTimeoutSeconds: 0.3 }));
    expect(diagnosis).toMatchObject({ ok: false, code: 'ETIMEOUT' });
    expect(diagnosis.message).toMatch(/did not answer within 0\.3 s/);
  });

  it('says EBADRESPONSE when the answer is not OData JSON', async () => {
    const server = await serve({ knobs: { faults: [{ set: 'Sessions', truncate: 'body' }] } });
    const diagnosis = await diagnose(onPremOptions(server));
    expect(diagnosis).toMatchObject({ ok: false, code: 'EBADRESPONSE' });
  });

  it('returns a diagnosis instead of throwing when stopped', async () => {
    const controller = new AbortController();
    controller.abort();
    const diagnosis = await diagnose(
      onPremOptions({ onPremUrl: 'http://127.0.0.1:9' }),
      controller.signal,
    );
    expect(diagnosis).toMatchObject({ ok: false, code: 'EABORTED' });
  });
});
