import { describe, expect, it } from 'vitest';
import { citrixODataOptionsSchema, cloudTokenUrl, onPremServiceRoot } from './options.ts';

const onPrem = {
  mode: 'onprem',
  url: 'https://ddc01.corp.example',
  domain: 'CORP',
  user: 'svc-autologging',
  password: 'Pa55-word!',
};
const cloud = {
  mode: 'cloud',
  customerId: 'acme1234',
  clientId: '0f5a1c9e-3b7d-4e2a-9c61-2d8f4b7a5e10',
  clientSecret: 'cl13nt-s3cret',
};

describe('citrix-odata options', () => {
  it('fills in the defaults of an on-premises source', () => {
    expect(citrixODataOptionsSchema.parse(onPrem)).toEqual({
      ...onPrem,
      rejectUnauthorized: true,
      connectTimeoutSeconds: 15,
      requestTimeoutSeconds: 120,
      overlapMinutes: 5,
      pageSize: 1000,
      backfillHours: 24,
    });
  });

  it('fills in the Cloud API root and leaves the token URL to be derived', () => {
    const parsed = citrixODataOptionsSchema.parse(cloud);
    expect(parsed).toMatchObject({ apiUrl: 'https://api.cloud.com/monitorodata' });
    expect(parsed).not.toHaveProperty('tokenUrl');
  });

  it.each([
    [{}, 'mode', /mode must be 'onprem' or 'cloud'/],
    [{ ...onPrem, mode: 'OnPrem' }, 'mode', /'onprem' or 'cloud'/],
    [{ ...onPrem, url: 'ddc01' }, 'url', /url is not a URL/],
    [{ ...onPrem, url: 'ftp://ddc01' }, 'url', /http:\/\/ or https:\/\//],
    [{ ...onPrem, url: 'https://u:p@ddc01' }, 'url', /must not hold a user name or password/],
    [{ ...onPrem, url: 'https://ddc01/x?y=1' }, 'url', /must not have a query/],
    [{ ...onPrem, user: '' }, 'user', /user must not be empty/],
    [{ ...onPrem, user: 'CORP\\svc' }, 'user', /give the domain once/],
    [{ ...onPrem, domain: 'CORP\\X' }, 'domain', /domain must be a domain name/],
    [{ ...onPrem, password: undefined }, 'password', /password must be text/],
    [{ ...onPrem, overlapMinutes: 1441 }, 'overlapMinutes', /at most 1440/],
    [{ ...onPrem, pageSize: 0 }, 'pageSize', /pageSize must be at least 1/],
    [{ ...onPrem, pageSize: 2.5 }, 'pageSize', /whole number/],
    [{ ...onPrem, backfillHours: -1 }, 'backfillHours', /at least 0/],
    [{ ...onPrem, requestTimeoutSeconds: 0 }, 'requestTimeoutSeconds', /at least 0.1/],
    [{ ...onPrem, rejectUnauthorized: 'no' }, 'rejectUnauthorized', /true or false/],
    [{ ...cloud, customerId: 'acme 1234' }, 'customerId', /letters, digits/],
    [{ ...cloud, clientSecret: '' }, 'clientSecret', /clientSecret must not be empty/],
    [{ ...cloud, apiUrl: 'api.cloud.com' }, 'apiUrl', /apiUrl is not a URL/],
  ])('rejects %j, naming %s', (input, path, message) => {
    const result = citrixODataOptionsSchema.safeParse(input);
    expect(result.success).toBe(false);
    const issue = result.error?.issues.find((i) => i.path.join('.') === path);
    expect(issue?.message).toMatch(message);
  });

  it('rejects an option of the other mode as unknown', () => {
    const result = citrixODataOptionsSchema.safeParse({ ...cloud, password: 'x' });
    expect(result.error?.issues).toMatchObject([{ code: 'unrecognized_keys', keys: ['password'] }]);
  });

  it('never repeats a secret in a message', () => {
    const secret = 'x'.repeat(1025);
    const result = citrixODataOptionsSchema.safeParse({ ...onPrem, password: secret, url: secret });
    const text = JSON.stringify(result.error?.issues.map((i) => i.message));
    expect(text).not.toContain('xxxxxxxx');
  });

  it('adds the v4 service path to a bare controller URL only', () => {
    expect(onPremServiceRoot('https://ddc01.corp.example').href).toBe(
      'https://ddc01.corp.example/Citrix/Monitor/OData/v4/Data',
    );
    expect(onPremServiceRoot('http://ddc01:8080/Citrix/Monitor/OData/v4/Data/').href).toBe(
      'http://ddc01:8080/Citrix/Monitor/OData/v4/Data',
    );
  });

  it('derives the token endpoint from the API host unless tokenUrl is given', () => {
    expect(
      cloudTokenUrl({ apiUrl: 'https://api.cloud.com/monitorodata', customerId: 'acme' }).href,
    ).toBe('https://api.cloud.com/cctrustoauth2/acme/tokens/clients');
    expect(
      cloudTokenUrl({ apiUrl: 'https://api.citrixcloud.jp/monitorodata', customerId: 'acme' }).host,
    ).toBe('api.citrixcloud.jp');
    expect(
      cloudTokenUrl({
        apiUrl: 'https://api.cloud.com/monitorodata',
        customerId: 'acme',
        tokenUrl: 'https://trust.example/t',
      }).href,
    ).toBe('https://trust.example/t');
  });
});
