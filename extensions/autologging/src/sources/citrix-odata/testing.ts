/**
 * What this folder's tests share: a source context with a settable clock and a capturing
 * logger, the credentials the fixture server accepts, and options pointing at it.
 */
import { memoryLogger, type LogEntry, type Logger } from '../../log/logger.ts';
import type { CaptureRecord, EventRecord, SessionRecord } from '../../records.ts';
import type { ODataServer } from '../../../../../tests/support/odata-server.ts';
import type { SourceContext } from '../types.ts';
import { citrixODataOptionsSchema, type CitrixODataOptions } from './options.ts';

/** The account the fixture's NTLM check accepts. */
export const NTLM_ACCOUNT = { domain: 'CORP', user: 'svc-autologging', password: 'Ntlm-Pa55word!' };
/** The API client the fixture's token endpoint accepts. */
export const CLOUD_CLIENT = {
  customerId: 'acme1234',
  clientId: '0f5a1c9e-3b7d-4e2a-9c61-2d8f4b7a5e10',
  clientSecret: 'cl13nt-S3cret-value',
};

/** A context whose clock tests move through `clock.now`, logging into `log.entries`. */
export function testContext(now: number): {
  context: SourceContext;
  clock: { now: number };
  log: Logger & { entries: LogEntry[] };
} {
  const clock = { now };
  const log = memoryLogger();
  const context: SourceContext = {
    id: 'ctx-site',
    log,
    timeZone: 'Asia/Seoul',
    now: () => clock.now,
    run: async () => {
      throw new Error('the citrix-odata source runs no commands');
    },
    platform: 'linux',
  };
  return { context, clock, log };
}

/** On-premises options for the fixture server, NTLM account filled in. */
export function onPremOptions(
  server: Pick<ODataServer, 'onPremUrl'> | { onPremUrl: string },
  extra: Record<string, unknown> = {},
): CitrixODataOptions {
  return citrixODataOptionsSchema.parse({
    mode: 'onprem',
    url: server.onPremUrl,
    ...NTLM_ACCOUNT,
    ...extra,
  });
}

/** Cloud options for the fixture server, API client filled in. */
export function cloudOptions(
  server: Pick<ODataServer, 'cloudApiUrl'>,
  extra: Record<string, unknown> = {},
): CitrixODataOptions {
  return citrixODataOptionsSchema.parse({
    mode: 'cloud',
    ...CLOUD_CLIENT,
    apiUrl: server.cloudApiUrl,
    ...extra,
  });
}

/** Sessions by key and failure events by key. */
export function byKind(records: readonly CaptureRecord[]): {
  sessions: Map<string, SessionRecord>;
  events: Map<string, EventRecord>;
} {
  const sessions = new Map<string, SessionRecord>();
  const events = new Map<string, EventRecord>();
  for (const r of records) {
    if (r.kind === 'session') sessions.set(r.key, r);
    else if (r.kind === 'event') events.set(r.key, r);
  }
  return { sessions, events };
}
