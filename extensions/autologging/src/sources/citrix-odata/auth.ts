/**
 * The two ways into the Monitor Service: Windows (NTLM) authentication of a connection to an
 * on-premises Delivery Controller, and a Citrix Cloud API client's bearer token. Both hold their
 * secret in a `Secret`, read only at the moment of use and wiped on `wipe()`.
 */
import os from 'node:os';
import ntlm from 'httpntlm/ntlm.js';
import { Secret } from '../../crypto/secret.ts';
import type { Logger } from '../../log/logger.ts';
import {
  RequestError,
  type HttpRequest,
  type HttpResponse,
  type HttpTransport,
} from './transport.ts';

/** Renew a Citrix Cloud token this long before it runs out. */
const TOKEN_MARGIN_MS = 5 * 60_000;
/** Citrix Cloud tokens live an hour; assumed when the answer does not say. */
const DEFAULT_TOKEN_SECONDS = 3600;
const MAX_TOKEN_LENGTH = 16_384;

/** Sends a request with credentials; the transport's `exclusive` is held by the caller. */
export interface Authenticator {
  send(request: HttpRequest, signal: AbortSignal): Promise<HttpResponse>;
  /** What a person should check when the server answers 401. */
  readonly refusedHint: string;
  /** Drops the credentials. */
  wipe(): void;
}

/** NTLM credentials. `user` may be `DOMAIN\name` or a UPN when `domain` is empty. */
export interface NtlmCredentials {
  domain: string;
  user: string;
  password: string;
}

/**
 * Windows authentication of the connection with NTLM (NTLMv2 when the server offers target
 * information, as every current Windows does). A request first goes out plainly, since IIS
 * keeps a connection authenticated; on `401` with NTLM (or Negotiate) offered, the three-leg
 * handshake runs on the same kept-alive connection and carries the request on its last leg.
 * The messages are made by the `httpntlm` package's NTLM functions.
 */
export class NtlmAuth implements Authenticator {
  readonly refusedHint = 'check domain, user and password';
  readonly #transport: HttpTransport;
  readonly #domain: string;
  readonly #user: string;
  readonly #workstation: string;
  readonly #password: Secret;

  constructor(transport: HttpTransport, credentials: NtlmCredentials) {
    this.#transport = transport;
    const slash = credentials.user.indexOf('\\');
    this.#domain = slash > 0 ? credentials.user.slice(0, slash) : credentials.domain;
    this.#user = slash > 0 ? credentials.user.slice(slash + 1) : credentials.user;
    this.#password = new Secret(Buffer.from(credentials.password, 'utf8'));
    this.#workstation = os.hostname().split('.')[0]!.slice(0, 15);
  }

  async send(request: HttpRequest, signal: AbortSignal): Promise<HttpResponse> {
    const plain = await this.#transport.send(request, signal);
    if (plain.status !== 401) return plain;
    const scheme = offeredScheme(plain.headers['www-authenticate']);
    if (!scheme) return plain;

    const negotiate = ntlm.createType1Message({
      domain: this.#domain,
      workstation: this.#workstation,
    });
    const challenged = await this.#transport.send(
      withHeader(request, 'authorization', negotiate.replace(/^NTLM /, `${scheme} `)),
      signal,
    );
    const token = challengeToken(challenged.headers['www-authenticate'], scheme);
    if (challenged.status !== 401 || token === null) return challenged;

    let challenge: ReturnType<typeof ntlm.parseType2Message> = null;
    try {
      challenge = ntlm.parseType2Message(`NTLM ${token}`, () => undefined);
    } catch {
      challenge = null;
    }
    if (!challenge) {
      throw new RequestError(
        'EBADRESPONSE',
        `${request.url.host} sent an unreadable NTLM challenge`,
      );
    }
    const authenticate = ntlm.createType3Message(challenge, {
      username: this.#user,
      password: this.#password.reveal().toString('utf8'),
      domain: this.#domain,
      workstation: this.#workstation,
    });
    return await this.#transport.send(
      withHeader(request, 'authorization', authenticate.replace(/^NTLM /, `${scheme} `)),
      signal,
    );
  }

  wipe(): void {
    this.#password.wipe();
  }
}

/** A Citrix Cloud API client (service principal). */
export interface CloudCredentials {
  customerId: string;
  clientId: string;
  clientSecret: string;
  tokenUrl: URL;
}

/**
 * Citrix Cloud: a bearer token from the client-credentials grant, sent as
 * `Authorization: CwsAuth Bearer=<token>` with `Citrix-CustomerId`. The token is renewed five
 * minutes before `expires_in` runs out (by `now()`), and once more when the API answers 401.
 */
export class CloudAuth implements Authenticator {
  readonly refusedHint = 'check customerId, clientId, clientSecret and the API client’s access';
  readonly #transport: HttpTransport;
  readonly #customerId: string;
  readonly #clientId: string;
  readonly #tokenUrl: URL;
  readonly #clientSecret: Secret;
  readonly #now: () => number;
  readonly #log: Logger;
  #token: { value: Secret; renewAt: number } | null = null;

  constructor(
    transport: HttpTransport,
    credentials: CloudCredentials,
    now: () => number,
    log: Logger,
  ) {
    this.#transport = transport;
    this.#customerId = credentials.customerId;
    this.#clientId = credentials.clientId;
    this.#tokenUrl = credentials.tokenUrl;
    this.#clientSecret = new Secret(Buffer.from(credentials.clientSecret, 'utf8'));
    this.#now = now;
    this.#log = log;
  }

  async send(request: HttpRequest, signal: AbortSignal): Promise<HttpResponse> {
    let fresh = false;
    if (!this.#token || this.#now() >= this.#token.renewAt) {
      await this.#renew(signal);
      fresh = true;
    }
    const response = await this.#transport.send(this.#authorised(request), signal);
    if (response.status !== 401 || fresh) return response;

    // Revoked or expired early (clock skew): one new token, one more try.
    await this.#renew(signal);
    return await this.#transport.send(this.#authorised(request), signal);
  }

  wipe(): void {
    this.#clientSecret.wipe();
    this.#token?.value.wipe();
    this.#token = null;
  }

  #authorised(request: HttpRequest): HttpRequest {
    const token = (this.#token as { value: Secret }).value.reveal().toString('utf8');
    return {
      ...request,
      headers: {
        ...request.headers,
        authorization: `CwsAuth Bearer=${token}`,
        'citrix-customerid': this.#customerId,
      },
    };
  }

  async #renew(signal: AbortSignal): Promise<void> {
    this.#token?.value.wipe();
    this.#token = null;
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.#clientId,
      client_secret: this.#clientSecret.reveal().toString('utf8'),
    });
    const response = await this.#transport.send(
      {
        method: 'POST',
        url: this.#tokenUrl,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
      },
      signal,
    );

    const { status } = response;
    const where = `the token endpoint ${this.#tokenUrl.host}`;
    if (status === 429) {
      throw new RequestError('ETHROTTLED', `${where} answered HTTP 429`, {
        status,
        retryAfter: headerText(response.headers['retry-after']),
      });
    }
    if (status === 400 || status === 401 || status === 403) {
      throw new RequestError(
        'EAUTH',
        `${where} refused the API client (HTTP ${status}); ${this.refusedHint}`,
        {
          status,
        },
      );
    }
    if (status === 404) {
      throw new RequestError('EAUTH', `${where} has no such path (HTTP 404); check tokenUrl`, {
        status,
      });
    }
    if (status < 200 || status > 299) {
      throw new RequestError('EBADRESPONSE', `${where} answered HTTP ${status}`, { status });
    }

    const { token, seconds } = readToken(response.body, where);
    const lifetime = seconds * 1000;
    const now = this.#now();
    this.#token = {
      value: new Secret(Buffer.from(token, 'utf8')),
      renewAt: now + Math.max(lifetime - TOKEN_MARGIN_MS, lifetime / 2),
    };
    this.#log.debug('Citrix Cloud token obtained', { expiresInSeconds: seconds });
  }
}

function readToken(body: Buffer, where: string): { token: string; seconds: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new RequestError('EBADRESPONSE', `${where} did not answer with JSON`);
  }
  const fields = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<
    string,
    unknown
  >;
  const token = fields.access_token;
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    throw new RequestError('EBADRESPONSE', `${where} answered without a usable access_token`);
  }
  // Citrix sends expires_in as text ("3600"); the OAuth standard says a number.
  const raw = fields.expires_in;
  const seconds =
    raw === undefined || raw === null
      ? DEFAULT_TOKEN_SECONDS
      : typeof raw === 'number' || (typeof raw === 'string' && /^\d{1,9}$/.test(raw))
        ? Number(raw)
        : NaN;
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new RequestError('EBADRESPONSE', `${where} answered with an unusable expires_in`);
  }
  return { token, seconds };
}

/** The scheme to answer with: NTLM when offered, else Negotiate (which takes NTLM tokens). */
function offeredScheme(header: string | string[] | undefined): 'NTLM' | 'Negotiate' | null {
  const schemes = splitChallenges(header).map((c) => c.split(' ')[0]!.toLowerCase());
  if (schemes.includes('ntlm')) return 'NTLM';
  if (schemes.includes('negotiate')) return 'Negotiate';
  return null;
}

/** The base64 challenge of `scheme` in a WWW-Authenticate value, if there is one. */
function challengeToken(header: string | string[] | undefined, scheme: string): string | null {
  for (const challenge of splitChallenges(header)) {
    const [name, token] = challenge.split(' ');
    if (name?.toLowerCase() === scheme.toLowerCase() && token && /^[A-Za-z0-9+/=]+$/.test(token)) {
      return token;
    }
  }
  return null;
}

// Node joins repeated WWW-Authenticate headers with ", "; base64 never holds a comma.
function splitChallenges(header: string | string[] | undefined): string[] {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  return values
    .flatMap((v) => v.split(/,\s*/))
    .map((v) => v.trim())
    .filter(Boolean);
}

function withHeader(request: HttpRequest, name: string, value: string): HttpRequest {
  return { ...request, headers: { ...request.headers, [name]: value } };
}

/** A header's value as one string, or null. */
export function headerText(value: string | string[] | undefined): string | null {
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}
