/**
 * One HTTP exchange at a time over node:http(s), on a single kept-alive connection per host:
 * NTLM authenticates a connection, not a request, so its handshake must stay on one socket,
 * and Citrix Cloud answers a second parallel call with HTTP 429. Every failure becomes a
 * `RequestError` with a stable code.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { AbortedError, AutoLoggingError } from '../../errors.ts';

/** What a request failed with. `status` is set for an HTTP answer that was not a success. */
export class RequestError extends AutoLoggingError {
  /** The HTTP status, when the server answered. */
  readonly status: number | null;
  /** The Retry-After header of a 429 answer. */
  readonly retryAfter: string | null;
  /** The request went out on a kept-alive connection the server had just closed. */
  staleConnection = false;

  constructor(
    code: string,
    message: string,
    options?: { cause?: unknown; status?: number; retryAfter?: string | null },
  ) {
    super(code, message, options);
    this.status = options?.status ?? null;
    this.retryAfter = options?.retryAfter ?? null;
  }
}

/** One request. Header values may hold a credential: they are never logged or put in errors. */
export interface HttpRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

/** A complete response, its body read to the end. */
export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** How the transport connects. */
export interface TransportOptions {
  /** Check the server's certificate (false only for testing). */
  rejectUnauthorized: boolean;
  connectTimeoutMs: number;
  /** From sending the request to the last byte of the response. */
  requestTimeoutMs: number;
  /** A larger response is refused: a broken or hostile server. */
  maxBodyBytes: number;
}

// Node and OpenSSL codes that mean the TLS connection could not be trusted or set up.
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'HOSTNAME_MISMATCH',
  'EPROTO',
]);

/**
 * Sends requests one after another, each on the host's single kept-alive connection. `send`
 * calls that overlap wait their turn. Throws `RequestError` (ENOTFOUND, ECONNREFUSED, ETLS,
 * ETIMEOUT, ENETWORK, EBADRESPONSE) or `AbortedError`.
 */
export class HttpTransport {
  readonly #options: TransportOptions;
  readonly #http: http.Agent;
  readonly #https: https.Agent;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: TransportOptions) {
    this.#options = options;
    const agent = {
      keepAlive: true,
      maxSockets: 1,
      maxFreeSockets: 1,
      scheduling: 'lifo' as const,
    };
    this.#http = new http.Agent(agent);
    this.#https = new https.Agent({ ...agent, rejectUnauthorized: options.rejectUnauthorized });
  }

  /** Runs `work` alone: no other `exclusive` or `send` starts until it has finished. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * One exchange, not queued: call it inside `exclusive`. A kept-alive connection that the
   * server closed just as the request went out is retried once on a new connection.
   */
  async send(request: HttpRequest, signal: AbortSignal): Promise<HttpResponse> {
    try {
      return await this.#sendOnce(request, signal);
    } catch (error) {
      if (!(error instanceof RequestError && error.staleConnection)) throw error;
      return await this.#sendOnce(request, signal);
    }
  }

  #sendOnce(request: HttpRequest, signal: AbortSignal): Promise<HttpResponse> {
    if (signal.aborted) return Promise.reject(new AbortedError(describe(request)));
    const { url } = request;
    const secure = url.protocol === 'https:';
    const { connectTimeoutMs, requestTimeoutMs, maxBodyBytes } = this.#options;

    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      let responded = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (error: Error | null, response?: HttpResponse) => {
        if (settled) return;
        settled = true;
        for (const timer of timers) clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (error) {
          req.destroy();
          reject(error);
        } else {
          resolve(response as HttpResponse);
        }
      };
      const onAbort = () => finish(new AbortedError(describe(request)));
      signal.addEventListener('abort', onAbort, { once: true });

      const headers: Record<string, string> = { ...request.headers };
      if (request.body !== undefined) {
        headers['content-length'] = String(Buffer.byteLength(request.body));
      }
      const req = (secure ? https : http).request(url, {
        method: request.method,
        headers,
        agent: secure ? this.#https : this.#http,
      });

      timers.push(
        setTimeout(() => {
          const seconds = requestTimeoutMs / 1000;
          finish(new RequestError('ETIMEOUT', `${url.host} did not answer within ${seconds} s`));
        }, requestTimeoutMs),
      );
      req.on('socket', (socket: Socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => {
          const seconds = connectTimeoutMs / 1000;
          finish(new RequestError('ETIMEOUT', `no connection to ${url.host} within ${seconds} s`));
        }, connectTimeoutMs);
        timers.push(timer);
        socket.once(secure ? 'secureConnect' : 'connect', () => clearTimeout(timer));
      });
      req.on('error', (error) => {
        const failure = networkError(error, url);
        const code = (error as { code?: unknown }).code;
        if (failure instanceof RequestError && req.reusedSocket && !responded) {
          failure.staleConnection = code === 'ECONNRESET' || code === 'EPIPE';
        }
        finish(failure);
      });

      req.on('response', (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBodyBytes) {
            const mib = Math.round(maxBodyBytes / 1048576);
            finish(new RequestError('EBADRESPONSE', `the response is larger than ${mib} MiB`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', () => undefined);
        res.on('close', () => {
          if (!res.complete) {
            finish(
              new RequestError('EBADRESPONSE', `the response was cut off after ${size} bytes`),
            );
          }
        });
        res.on('end', () => {
          finish(null, {
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          });
        });
      });

      req.end(request.body);
    });
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}

/** `GET Sessions` without the query, which is long and says nothing to a person. */
function describe(request: HttpRequest): string {
  return `${request.method} ${request.url.host}${request.url.pathname}`;
}

function networkError(error: Error, url: URL): Error {
  if (error instanceof RequestError || error instanceof AbortedError) return error;
  const code = (error as { code?: unknown }).code;
  const name = typeof code === 'string' ? code : '';
  const host = url.hostname;

  if (['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA'].includes(name)) {
    return new RequestError('ENOTFOUND', `the name ${host} could not be resolved (${name})`, {
      cause: error,
    });
  }
  if (name === 'ECONNREFUSED') {
    return new RequestError('ECONNREFUSED', `${url.host} refused the connection`, {
      cause: error,
    });
  }
  if (name === 'ETIMEDOUT') {
    return new RequestError('ETIMEOUT', `the connection to ${url.host} timed out`, {
      cause: error,
    });
  }
  if (TLS_CODES.has(name) || /^ERR_(TLS|SSL)_|^ERR_OSSL_|CERT/.test(name)) {
    return new RequestError('ETLS', `the TLS connection to ${url.host} failed (${name})`, {
      cause: error,
    });
  }
  if (name.startsWith('HPE_')) {
    return new RequestError('EBADRESPONSE', `${url.host} did not answer in HTTP (${name})`, {
      cause: error,
    });
  }
  return new RequestError(
    'ENETWORK',
    `the connection to ${url.host} failed (${name || error.message.slice(0, 80)})`,
    { cause: error },
  );
}
