/**
 * The OData side of the conversation: entity-set URLs, one page per call, `@odata.nextLink`
 * checked before it is followed, HTTP statuses turned into stable codes, and HTTP 429 answered
 * by waiting, never by a parallel call.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError } from '../../errors.ts';
import type { Logger } from '../../log/logger.ts';
import { headerText, type Authenticator } from './auth.ts';
import { FieldProblem, readPage, type ODataPage } from './decode.ts';
import { RequestError, type HttpRequest, type HttpTransport } from './transport.ts';

/** Waits after one HTTP 429 at most this long, whatever Retry-After says. */
export const MAX_RETRY_WAIT_MS = 60_000;
/** HTTP 429 answers in a row before a request gives up with ETHROTTLED. */
export const MAX_THROTTLED = 8;

/** What the client needs besides its transport and authenticator. */
export interface ODataClientOptions {
  /** The service root: `…/Citrix/Monitor/OData/v4/Data` or the Cloud `…/monitorodata`. */
  baseUrl: URL;
  /** Sent as `Prefer: odata.maxpagesize`; the server may page smaller. */
  pageSize: number;
  log: Logger;
  now(): number;
}

/**
 * Reads pages from the Monitor Service, one request at a time. Throws `RequestError` with a code
 * (`EAUTH` 401, `EFORBIDDEN` 403, `ENOENTITYSET` 404, `ETHROTTLED`, `EBADRESPONSE`, or the
 * transport's network codes) or `AbortedError`. Messages hold no query, secret or value.
 */
export class ODataClient {
  readonly #transport: HttpTransport;
  readonly #auth: Authenticator;
  readonly #options: ODataClientOptions;

  constructor(transport: HttpTransport, auth: Authenticator, options: ODataClientOptions) {
    this.#transport = transport;
    this.#auth = auth;
    this.#options = options;
  }

  /** The URL of `entitySet` with the query options given, values percent-encoded. */
  entityUrl(entitySet: string, query: Record<string, string>): URL {
    const base = this.#options.baseUrl;
    const url = new URL(base.href);
    url.pathname = `${base.pathname.replace(/\/+$/, '')}/${entitySet}`;
    url.search = Object.entries(query)
      .map(([key, value]) => `${key}=${encodeURIComponent(value)}`)
      .join('&');
    return url;
  }

  /**
   * The URL an `@odata.nextLink` leads to. A link to another origin is read as the same path on
   * ours (controllers behind a load balancer name their own host), so credentials never leave
   * the configured server; a link outside the service root is refused with EBADRESPONSE.
   */
  nextUrl(link: string, current: URL): URL {
    let next: URL;
    try {
      next = new URL(link, current);
    } catch {
      throw new RequestError('EBADRESPONSE', '@odata.nextLink is not a URL');
    }
    const base = this.#options.baseUrl;
    const root = base.pathname.replace(/\/+$/, '').toLowerCase();
    if (!next.pathname.toLowerCase().startsWith(`${root}/`)) {
      throw new RequestError(
        'EBADRESPONSE',
        '@odata.nextLink leads outside the service; not followed',
      );
    }
    if (next.origin !== base.origin) {
      this.#options.log.warnOnce(
        `odata-next-link-origin:${base.origin}`,
        'the server names another host in @odata.nextLink; following it on the configured host',
        { configured: base.host, named: next.host },
      );
      next = new URL(`${next.pathname}${next.search}`, base.origin);
    }
    if (next.href === current.href) {
      throw new RequestError('EBADRESPONSE', '@odata.nextLink repeats the page just read');
    }
    return next;
  }

  /** GETs one page of an entity set (or a nextLink) and checks its envelope. */
  page(url: URL, signal: AbortSignal): Promise<ODataPage> {
    return this.#transport.exclusive(async () => {
      const body = await this.#get(url, signal);
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        throw new RequestError(
          'EBADRESPONSE',
          `the response is not valid JSON (${body.length} bytes; cut off?)`,
        );
      }
      try {
        return readPage(json);
      } catch (error) {
        if (error instanceof FieldProblem) {
          throw new RequestError('EBADRESPONSE', `the response's ${error.field} ${error.reason}`);
        }
        throw error;
      }
    });
  }

  async #get(url: URL, signal: AbortSignal): Promise<Buffer> {
    const request: HttpRequest = {
      method: 'GET',
      url,
      headers: {
        accept: 'application/json',
        prefer: `odata.maxpagesize=${this.#options.pageSize}`,
        'odata-maxversion': '4.0',
      },
    };

    for (let throttled = 0; ; throttled++) {
      let retryAfter: string | null;
      try {
        const response = await this.#auth.send(request, signal);
        const { status } = response;
        retryAfter = headerText(response.headers['retry-after']);
        if (status >= 200 && status <= 299) {
          checkJson(headerText(response.headers['content-type']), url);
          return response.body;
        }
        if (status !== 429 && !(status === 503 && retryAfter !== null)) {
          throw this.#statusError(status, url);
        }
      } catch (error) {
        if (!(
          error instanceof RequestError &&
          error.code === 'ETHROTTLED' &&
          error.status === 429
        )) {
          throw error;
        }
        retryAfter = error.retryAfter;
      }

      if (throttled >= MAX_THROTTLED) {
        throw new RequestError(
          'ETHROTTLED',
          `${url.host} still answered HTTP 429 (too many requests) after ${MAX_THROTTLED} waits`,
          { status: 429 },
        );
      }
      const waitMs = retryDelayMs(retryAfter, throttled, this.#options.now());
      this.#options.log.debug('throttled by the server; waiting before trying again', {
        host: url.host,
        waitMs,
      });
      try {
        await sleep(waitMs, undefined, { signal });
      } catch {
        throw new AbortedError(`waiting for ${url.host} to accept requests again`);
      }
    }
  }

  #statusError(status: number, url: URL): RequestError {
    const where = `${url.host}${url.pathname}`;
    switch (status) {
      case 401:
        return new RequestError(
          'EAUTH',
          `${url.host} refused the credentials (HTTP 401); ${this.#auth.refusedHint}`,
          { status },
        );
      case 403:
        return new RequestError(
          'EFORBIDDEN',
          `${url.host} denied access (HTTP 403); the account needs a Citrix administrator ` +
            'role that may read monitoring data',
          { status },
        );
      case 404:
        return new RequestError(
          'ENOENTITYSET',
          `${where} was not found (HTTP 404); the url should be the OData v4 service root, ` +
            'ending in /Citrix/Monitor/OData/v4/Data',
          { status },
        );
      default:
        return new RequestError('EBADRESPONSE', `${url.host} answered HTTP ${status}`, { status });
    }
  }
}

/**
 * How long to wait after an HTTP 429: Retry-After in seconds or as an HTTP date (against
 * `now`), else 1, 2, 4… seconds by attempt; never more than `MAX_RETRY_WAIT_MS`.
 */
export function retryDelayMs(retryAfter: string | null, attempt: number, now: number): number {
  const text = retryAfter?.trim() ?? '';
  let ms = Math.min(1000 * 2 ** attempt, MAX_RETRY_WAIT_MS);
  if (/^\d{1,9}$/.test(text)) {
    ms = Number(text) * 1000;
  } else if (text) {
    const at = Date.parse(text);
    if (Number.isFinite(at)) ms = at - now;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_WAIT_MS);
}

function checkJson(contentType: string | null, url: URL): void {
  // v3 answers Atom XML by default; v4 answers JSON.
  if (contentType !== null && /xml/i.test(contentType)) {
    throw new RequestError(
      'EBADRESPONSE',
      `${url.host} answered XML, not JSON: is the url an OData v3 endpoint? Use .../OData/v4/Data`,
    );
  }
}
