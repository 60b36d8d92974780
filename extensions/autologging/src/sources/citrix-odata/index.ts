/**
 * The `citrix-odata` source: sessions and connection failures from the Citrix Monitor Service
 * OData v4 API, on a Delivery Controller (NTLM) or in Citrix Cloud. See README.md beside this
 * file.
 */
import { AbortedError, SourceError, throwIfAborted } from '../../errors.ts';
import type { CaptureRecord, EventRecord, SessionRecord } from '../../records.ts';
import type {
  CaptureResult,
  CaptureWindow,
  Diagnosis,
  Source,
  SourceContext,
  SourcePlugin,
  SourceProblem,
} from '../types.ts';
import { CloudAuth, NtlmAuth, type Authenticator } from './auth.ts';
import { ODataClient } from './client.ts';
import {
  decodeDesktopGroup,
  decodeFailure,
  decodeSession,
  FieldProblem,
  formatODataDate,
  parseODataDate,
  type Decoded,
} from './decode.ts';
import { maskPersonal } from '../shared/diagnose.ts';
import {
  citrixODataOptionsSchema,
  cloudTokenUrl,
  onPremServiceRoot,
  type CitrixODataOptions,
} from './options.ts';
import { HttpTransport, RequestError } from './transport.ts';

export { citrixODataOptionsSchema, type CitrixODataOptions } from './options.ts';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
/**
 * The longest stretch of ModifiedDate one capture reads. A first capture that looks back further,
 * or one catching up after a long stop, comes in parts of this size (`more: true`), so each is
 * stored in a transaction of bounded size.
 */
const MAX_CAPTURE_SPAN_MS = 24 * HOUR_MS;
/** A single response larger than this is refused as broken. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** A set with more pages than this in one capture is taken for a server looping its links. */
const MAX_PAGES = 10_000;

/** Expanded on each session: the user, the VDA, the client connection and any failure. */
export const SESSION_EXPAND = 'User,Machine,CurrentConnection,Failure';
/** Expanded on each connection failure; the client comes from the failed session's connection. */
export const FAILURE_EXPAND = 'User,Machine,Session($expand=CurrentConnection)';

/** The `citrix-odata` source plugin. */
export const citrixODataSource: SourcePlugin<CitrixODataOptions> = {
  kind: 'citrix-odata',
  description:
    'Citrix Monitor Service (OData v4): sessions and connection failures, on-premises or Cloud',
  options: citrixODataOptionsSchema,
  defaultSchedule: '*/10 * * * *',
  create: (options, context) => new CitrixODataSource(options, context),
};

/** What one capture asks the server for. */
interface CapturePlan {
  /** The `$filter` on ModifiedDate. */
  filter: string;
  /** The cursor never goes below this: the previous cursor, or the start of the backfill. */
  floor: number;
  /** The end of a bounded part (exclusive), or null when the capture reads up to the present. */
  partEnd: number | null;
  more: boolean;
  window: boolean;
}

/** What was read of one entity set. */
interface SetResult<T> {
  records: Map<string, T>;
  /** The newest ModifiedDate of a record read good. */
  newest: number | null;
  /** The cursor must not pass this: a rejected row, or where reading stopped. */
  bound: number | null;
  problems: SourceProblem[];
}

class CitrixODataSource implements Source {
  readonly #context: SourceContext;
  readonly #overlapMs: number;
  readonly #backfillMs: number;
  readonly #transport: HttpTransport;
  readonly #auth: Authenticator;
  readonly #client: ODataClient;

  constructor(options: CitrixODataOptions, context: SourceContext) {
    this.#context = context;
    this.#overlapMs = options.overlapMinutes * MINUTE_MS;
    this.#backfillMs = options.backfillHours * HOUR_MS;
    this.#transport = new HttpTransport({
      rejectUnauthorized: options.rejectUnauthorized,
      connectTimeoutMs: options.connectTimeoutSeconds * 1000,
      requestTimeoutMs: options.requestTimeoutSeconds * 1000,
      maxBodyBytes: MAX_BODY_BYTES,
    });

    let baseUrl: URL;
    if (options.mode === 'onprem') {
      baseUrl = onPremServiceRoot(options.url);
      this.#auth = new NtlmAuth(this.#transport, options);
    } else {
      baseUrl = new URL(options.apiUrl.replace(/\/+$/, ''));
      this.#auth = new CloudAuth(
        this.#transport,
        { ...options, tokenUrl: cloudTokenUrl(options) },
        context.now,
        context.log,
      );
    }
    this.#client = new ODataClient(this.#transport, this.#auth, {
      baseUrl,
      pageSize: options.pageSize,
      log: context.log,
      now: context.now,
    });
  }

  async open(signal: AbortSignal): Promise<void> {
    throwIfAborted(signal, `source ${this.#context.id} open`);
  }

  async capture(
    cursor: string | null,
    signal: AbortSignal,
    window?: CaptureWindow,
  ): Promise<CaptureResult> {
    throwIfAborted(signal, `source ${this.#context.id} capture`);
    const plan = this.#plan(cursor, window);
    const groups = await this.#desktopGroups(signal);

    const unknownCode = (field: string, code: number) =>
      this.#context.log.warnOnce(
        `citrix-odata:${this.#context.id}:${field}:${code}`,
        `${field} ${code} is not a code this version knows; recorded as unknown`,
        { source: this.#context.id },
      );
    const query = { $filter: plan.filter, $orderby: 'ModifiedDate' };
    const sessions = await this.#readSet<SessionRecord>(
      'Sessions',
      { ...query, $expand: SESSION_EXPAND },
      (row) => decodeSession(row, groups, unknownCode),
      plan.floor,
      signal,
    );
    const failures = await this.#readSet<EventRecord>(
      'ConnectionFailureLogs',
      { ...query, $expand: FAILURE_EXPAND },
      decodeFailure,
      plan.floor,
      signal,
    );

    const records: CaptureRecord[] = [...sessions.records.values(), ...failures.records.values()];
    const rejected = [...sessions.problems, ...failures.problems];
    this.#context.log.debug('captured', {
      sessions: sessions.records.size,
      failures: failures.records.size,
      rejected: rejected.length,
    });

    const result: CaptureResult = {
      records,
      cursor: this.#nextCursor(plan, [sessions, failures]),
    };
    if (plan.more) result.more = true;
    if (rejected.length) result.rejected = rejected;
    return result;
  }

  async test(signal: AbortSignal): Promise<Diagnosis> {
    try {
      const groups = await this.#desktopGroups(signal);
      const url = this.#client.entityUrl('Sessions', {
        $orderby: 'ModifiedDate desc',
        $top: '1',
        $count: 'true',
        $expand: SESSION_EXPAND,
      });
      const host = url.host;
      const page = await this.#client.page(url, signal);
      const count = page.count ?? page.rows.length;
      if (page.rows.length === 0) {
        return {
          ok: true,
          code: 'ENODATA',
          message: `connected to ${host}, but the Monitor Service holds no sessions yet`,
          count: 0,
        };
      }

      const decoded = decodeSession(page.rows[0], groups, () => undefined);
      if (!decoded.ok) {
        return {
          ok: false,
          code: 'EBADRECORD',
          message:
            `connected to ${host}, but the latest session could not be read: ` +
            `${decoded.field} ${decoded.reason}`,
          count,
        };
      }
      return {
        ok: true,
        code: 'OK',
        message:
          `connected to ${host}: ${count} sessions recorded; ` +
          'the latest is shown with personal fields masked',
        count,
        sample: maskPersonal(decoded.record),
      };
    } catch (error) {
      if (error instanceof AbortedError) {
        return { ok: false, code: error.code, message: 'the connection test was stopped' };
      }
      if (error instanceof SourceError || error instanceof RequestError) {
        return { ok: false, code: error.code, message: error.message };
      }
      return { ok: false, code: 'EUNEXPECTED', message: 'the connection test failed unexpectedly' };
    }
  }

  async close(): Promise<void> {
    this.#transport.close();
    this.#auth.wipe();
  }

  #plan(cursor: string | null, window: CaptureWindow | undefined): CapturePlan {
    if (window) {
      const partEnd = Math.min(window.until, window.since + MAX_CAPTURE_SPAN_MS);
      const [gt, le] = [formatODataDate(window.since), formatODataDate(partEnd)];
      return {
        filter: `ModifiedDate gt ${gt} and ModifiedDate le ${le}`,
        floor: window.since,
        partEnd,
        more: partEnd < window.until,
        window: true,
      };
    }

    const now = this.#context.now();
    const start = cursor === null ? now - this.#backfillMs : this.#parseCursor(cursor);
    const from = cursor === null ? start : start - this.#overlapMs;
    const since = `ModifiedDate ge ${formatODataDate(from)}`;
    if (now - start <= MAX_CAPTURE_SPAN_MS) {
      return { filter: since, floor: start, partEnd: null, more: false, window: false };
    }
    const partEnd = start + MAX_CAPTURE_SPAN_MS;
    return {
      filter: `${since} and ModifiedDate lt ${formatODataDate(partEnd)}`,
      floor: start,
      partEnd,
      more: true,
      window: false,
    };
  }

  /**
   * Where the next capture resumes: the end of a bounded part, else the newest ModifiedDate read
   * good; never past a rejected row or the point where a set stopped, never below the floor
   * unless a rejected row lies there. A window's part end is given in epoch ms, as the agent
   * resumes windows from it.
   */
  #nextCursor(plan: CapturePlan, sets: SetResult<unknown>[]): string {
    let next = plan.partEnd ?? plan.floor;
    if (plan.partEnd === null) {
      for (const set of sets) if (set.newest !== null) next = Math.max(next, set.newest);
    }
    for (const set of sets) if (set.bound !== null) next = Math.min(next, set.bound);
    return plan.window ? String(next) : new Date(next).toISOString();
  }

  #parseCursor(cursor: string): number {
    const at = cursor.length <= 40 ? parseODataDate(cursor) : null;
    if (at === null) {
      const shown = cursor.length > 40 ? `${cursor.slice(0, 40)}…` : cursor;
      throw new SourceError(
        'ECURSOR',
        this.#context.id,
        `cursor ${JSON.stringify(shown)} is not an ISO 8601 time such as 2024-12-01T00:00:00.000Z`,
      );
    }
    return at;
  }

  /**
   * DesktopGroups Id → Name, read at the start of every capture and test: the first requests,
   * so any failure here throws `SourceError` with the request's code.
   */
  async #desktopGroups(signal: AbortSignal): Promise<Map<string, string | null>> {
    const groups = new Map<string, string | null>();
    let url = this.#client.entityUrl('DesktopGroups', { $select: 'Id,Name' });
    for (let pageNumber = 1; ; pageNumber++) {
      try {
        const page = await this.#client.page(url, signal);
        for (const row of page.rows) {
          const group = decodeDesktopGroup(row);
          groups.set(group.id, group.name);
        }
        if (page.nextLink === null) return groups;
        if (pageNumber >= MAX_PAGES) {
          throw new RequestError('EBADRESPONSE', `more than ${MAX_PAGES} pages`);
        }
        url = this.#client.nextUrl(page.nextLink, url);
      } catch (error) {
        if (error instanceof FieldProblem) {
          throw new SourceError(
            'EBADRESPONSE',
            this.#context.id,
            `DesktopGroups page ${pageNumber}: ${error.field} ${error.reason}`,
          );
        }
        if (error instanceof RequestError) {
          throw new SourceError(
            error.code,
            this.#context.id,
            `DesktopGroups page ${pageNumber}: ${error.message}`,
            { cause: error },
          );
        }
        throw error;
      }
    }
  }

  /**
   * Reads every page of `entitySet` matching `query`, decoding each row. A row that cannot be
   * read is an `EBADRECORD` problem and the rest still count; a page that cannot be read ends
   * the set with a problem of the request's code (`EBADRESPONSE` for a broken answer).
   */
  async #readSet<T extends CaptureRecord>(
    entitySet: string,
    query: Record<string, string>,
    decode: (row: unknown) => Decoded<T>,
    floor: number,
    signal: AbortSignal,
  ): Promise<SetResult<T>> {
    const id = this.#context.id;
    const result: SetResult<T> = { records: new Map(), newest: null, bound: null, problems: [] };
    const stopAt = (at: number) => {
      result.bound = result.bound === null ? at : Math.min(result.bound, at);
    };
    // The ModifiedDate of the last row seen, good or not: rows come in ModifiedDate order.
    let last: number | null = null;
    let url = this.#client.entityUrl(entitySet, query);

    for (let pageNumber = 1; ; pageNumber++) {
      const request = `${entitySet} page ${pageNumber}`;
      let nextLink: string | null;
      try {
        const page = await this.#client.page(url, signal);
        for (const [index, row] of page.rows.entries()) {
          const decoded = decode(row);
          if (decoded.ok) {
            result.records.set(decoded.record.key, decoded.record);
            result.newest = Math.max(result.newest ?? decoded.modifiedAt, decoded.modifiedAt);
            last = decoded.modifiedAt;
            continue;
          }
          stopAt(decoded.modifiedAt ?? last ?? floor);
          if (decoded.modifiedAt !== null) last = decoded.modifiedAt;
          const where = `row ${index + 1}${decoded.key ? ` (SessionKey ${decoded.key})` : ''}`;
          result.problems.push({
            code: 'EBADRECORD',
            message: `source ${id}: ${request}, ${where}: ${decoded.field} ${decoded.reason}`,
          });
        }
        nextLink = page.nextLink;
        if (nextLink !== null && pageNumber >= MAX_PAGES) {
          throw new RequestError('EBADRESPONSE', `more than ${MAX_PAGES} pages; stopped`);
        }
        if (nextLink !== null) url = this.#client.nextUrl(nextLink, url);
      } catch (error) {
        if (!(error instanceof RequestError)) throw error;
        stopAt(last ?? floor);
        result.problems.push({
          code: error.code,
          message: `source ${id}: ${request}: ${error.message}`,
        });
        return result;
      }
      if (nextLink === null) return result;
    }
  }
}
