import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoSite } from '../extensions/autologging/src/sources/demo/generator.ts';
import { demoSource } from '../extensions/autologging/src/sources/demo/index.ts';
import { cliAsync } from './support/cli.ts';
import { homeWith } from './support/home.ts';
import {
  citrixSiteFromDemo,
  emptyCitrixSite,
  startODataServer,
  type ODataServer,
} from './support/odata-server.ts';

// `autologging source test ID`, as an administrator runs it, against a Monitor Service double on
// 127.0.0.1: one diagnosis per way a connection goes wrong, and never the password.

const PASSWORD = 'Odata-Pa55!';
const ACCOUNT = { domain: 'CORP', user: 'svc-autologging', password: PASSWORD };
const UNTIL = Date.now();
const site = new DemoSite(demoSource.options.parse({ users: 20, seed: 3 }), 'Asia/Seoul');

const servers: Record<string, ODataServer> = {};

beforeAll(async () => {
  const data = () => citrixSiteFromDemo(site, site.between(UNTIL - 86_400_000, UNTIL));
  servers.plain = await startODataServer({ data: data(), ntlm: ACCOUNT });
  servers.empty = await startODataServer({ data: emptyCitrixSite(), ntlm: ACCOUNT });
  servers.tls = await startODataServer({ data: data(), ntlm: ACCOUNT, tls: true });
  servers.forbidden = await startODataServer({
    data: data(),
    ntlm: ACCOUNT,
    knobs: { faults: [{ status: 403 }] },
  });
  servers.slow = await startODataServer({
    data: data(),
    ntlm: ACCOUNT,
    knobs: { faults: [{ delayMs: 5000 }] },
  });
});

afterAll(async () => {
  for (const server of Object.values(servers)) await server.close();
});

function odata(url: string, extra: Record<string, unknown> = {}) {
  return {
    id: 'ddc',
    kind: 'citrix-odata',
    options: {
      mode: 'onprem',
      url,
      domain: 'CORP',
      user: 'svc-autologging',
      password: PASSWORD,
      requestTimeoutSeconds: 1,
      connectTimeoutSeconds: 2,
      ...extra,
    },
  };
}

const cases: Array<[string, () => Record<string, unknown>, RegExp]> = [
  ['OK', () => odata(servers.plain!.onPremUrl), /^ddc: OK: .*\n  records: \d+\n  sample: /],
  ['ENODATA', () => odata(servers.empty!.onPremUrl), /^ddc: ENODATA: /],
  ['EAUTH', () => odata(servers.plain!.onPremUrl, { password: 'wrong-password' }), /^ddc: EAUTH: /],
  ['EFORBIDDEN', () => odata(servers.forbidden!.onPremUrl), /^ddc: EFORBIDDEN: .*403/],
  [
    'ENOENTITYSET',
    () => odata(`${servers.plain!.origin}/Citrix/Monitor/OData/v3/Data`),
    /^ddc: ENOENTITYSET: .*404/,
  ],
  ['ETLS', () => odata(servers.tls!.onPremUrl), /^ddc: ETLS: /],
  ['ETIMEOUT', () => odata(servers.slow!.onPremUrl), /^ddc: ETIMEOUT: /],
  [
    'ECONNREFUSED',
    () => odata('http://127.0.0.1:9/Citrix/Monitor/OData/v4/Data'),
    /^ddc: ECONNREFUSED: /,
  ],
  [
    'ENOTFOUND',
    () => odata('http://nonexistent.invalid/Citrix/Monitor/OData/v4/Data'),
    /^ddc: ENOTFOUND: /,
  ],
];

describe('autologging source test', () => {
  it.each(cases)('prints the %s diagnosis', async (code, source, expected) => {
    const home = homeWith({ sources: [source()] });
    const r = await cliAsync(['--home', home, 'source', 'test', 'ddc']);
    expect(r.stdout).toMatch(expected);
    expect(r.code).toBe(code === 'OK' || code === 'ENODATA' ? 0 : 1);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    if (code === 'OK') expect(r.stdout).toMatch(/"user":"\*\*\*"/);
  });
});
