import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../log/logger.ts';
import type { Authenticator } from './auth.ts';
import { MAX_RETRY_WAIT_MS, ODataClient, retryDelayMs } from './client.ts';
import { HttpTransport, RequestError } from './transport.ts';

const NOW = Date.UTC(2024, 5, 4, 3, 0, 0);

function client(base = 'https://ddc01.corp.example/Citrix/Monitor/OData/v4/Data'): ODataClient {
  const transport = new HttpTransport({
    rejectUnauthorized: true,
    connectTimeoutMs: 1000,
    requestTimeoutMs: 1000,
    maxBodyBytes: 1024,
  });
  const auth = { refusedHint: '', wipe: () => undefined } as unknown as Authenticator;
  return new ODataClient(transport, auth, {
    baseUrl: new URL(base),
    pageSize: 100,
    log: silentLogger,
    now: () => NOW,
  });
}

describe('retryDelayMs', () => {
  it.each([
    ['3', 0, 3000],
    [' 0 ', 0, 0],
    [new Date(NOW + 2500).toUTCString(), 0, 2000],
    [new Date(NOW - 60_000).toUTCString(), 0, 0],
    ['86400', 0, MAX_RETRY_WAIT_MS],
    [null, 0, 1000],
    [null, 2, 4000],
    ['soon', 3, 8000],
    [null, 10, MAX_RETRY_WAIT_MS],
  ])('waits for Retry-After %j (attempt %i) %i ms', (header, attempt, expected) => {
    expect(retryDelayMs(header, attempt, NOW)).toBe(expected);
  });
});

describe('ODataClient URLs', () => {
  it('puts the entity set under the service root and encodes the query values', () => {
    const url = client().entityUrl('Sessions', {
      $filter: 'ModifiedDate ge 2024-12-01T00:00:00Z',
      $expand: 'User,Session($expand=CurrentConnection)',
    });
    expect(url.href).toBe(
      'https://ddc01.corp.example/Citrix/Monitor/OData/v4/Data/Sessions' +
        '?$filter=ModifiedDate%20ge%202024-12-01T00%3A00%3A00Z' +
        '&$expand=User%2CSession(%24expand%3DCurrentConnection)',
    );
  });

  it('follows a relative next link inside the service', () => {
    const c = client();
    const current = c.entityUrl('Sessions', {});
    expect(c.nextUrl('Sessions?$skip=100', current).href).toBe(
      'https://ddc01.corp.example/Citrix/Monitor/OData/v4/Data/Sessions?$skip=100',
    );
  });

  it('moves a next link naming another host onto the configured one', () => {
    const c = client();
    const link = 'http://DDC01:80/Citrix/Monitor/OData/v4/Data/Sessions?$skip=100';
    expect(c.nextUrl(link, c.entityUrl('Sessions', {})).origin).toBe('https://ddc01.corp.example');
  });

  it.each([
    ['https://evil.example/steal', /leads outside the service/],
    ['https://ddc01.corp.example/Citrix/Monitor/OData/v4/Data/Sessions', /repeats the page/],
    ['http://[::1', /not a URL/],
  ])('refuses the next link %s', (link, message) => {
    const c = client();
    const error = (() => {
      try {
        c.nextUrl(link, c.entityUrl('Sessions', {}));
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(RequestError);
    expect(error).toMatchObject({ code: 'EBADRESPONSE', message: expect.stringMatching(message) });
  });
});
