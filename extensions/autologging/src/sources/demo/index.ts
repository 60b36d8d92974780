/**
 * The `demo` source: a simulated Citrix site, for trying the product without a Delivery
 * Controller and for benchmarks. See README.md beside this file.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { z } from 'zod';
import { SourceError, throwIfAborted } from '../../errors.ts';
import type { CaptureRecord, EventRecord, SessionRecord } from '../../records.ts';
import { backfillHoursOption, timeZoneOption } from '../shared/options.ts';
import type {
  CaptureResult,
  CaptureWindow,
  Source,
  SourceContext,
  SourcePlugin,
} from '../types.ts';
import { DemoSite } from './generator.ts';

const HOUR_MS = 3_600_000;
/** Days generated between two looks at the abort signal during a long backfill. */
const DAYS_PER_TURN = 7;
/**
 * The longest stretch one capture returns. A first capture that looks back years is cut into
 * parts of this size (`more: true`), so each lands in a transaction of bounded size.
 */
const MAX_CAPTURE_MS = 7 * 24 * HOUR_MS;

const DEFAULT_GROUPS = ['Office Desktop', 'Developer Desktop', 'Call Center Apps'];

function wholeNumber(name: string, min: number, max: number, fallback: number) {
  return z
    .int({ error: `${name} must be a whole number from ${min} to ${max}` })
    .min(min, { error: `${name} must be at least ${min}` })
    .max(max, { error: `${name} must be at most ${max}` })
    .default(fallback);
}

function share(name: string, fallback: number) {
  return z
    .number({ error: `${name} must be a number from 0 to 1` })
    .min(0, { error: `${name} must be at least 0` })
    .max(1, { error: `${name} must be at most 1` })
    .default(fallback);
}

/**
 * Options of a `demo` source. Every option is optional; unknown keys are rejected.
 *
 * - `seed` (1): any whole number; the same seed always simulates the same site and history.
 * - `users` (40, 1-100000), `machines` (12, 1-10000): people and VDAs. Machines are spread
 *   round-robin over the delivery groups, so there must be at least one per group.
 * - `deliveryGroups` (Office Desktop, Developer Desktop, Call Center Apps): distinct names;
 *   a group named with "App" or "Apps" hosts application sessions, the others desktops.
 * - `domain` ('CORP'): the NetBIOS domain of users and machines.
 * - `backfillHours` (24, 0-26304): how far back the very first capture looks.
 * - `failureRate` (0.03), `rdpShare` (0.1): shares from 0 to 1 of failed logon attempts and
 *   of users connecting with RDP.
 * - `timeZone` (the agent's zone): the site's IANA zone, which sets office hours and days.
 */
export const demoOptionsSchema = z
  .strictObject({
    seed: z.int({ error: 'seed must be a whole number' }).default(1),
    users: wholeNumber('users', 1, 100_000, 40),
    machines: wholeNumber('machines', 1, 10_000, 12),
    deliveryGroups: z
      .array(
        z
          .string({ error: 'each delivery group must be a name in quotes' })
          .trim()
          .min(1, { error: 'a delivery group name must not be empty' }),
        { error: 'deliveryGroups must be a list of names' },
      )
      .min(1, { error: 'deliveryGroups must name at least one group' })
      .refine((groups) => new Set(groups).size === groups.length, {
        error: 'deliveryGroups must not repeat a name',
      })
      .default(() => [...DEFAULT_GROUPS]),
    domain: z
      .string({ error: 'domain must be a name in quotes' })
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,14}$/, {
        error: "domain must be a NetBIOS domain name: 1-15 letters, digits, '-' or '_'",
      })
      .default('CORP'),
    backfillHours: backfillHoursOption().default(24),
    failureRate: share('failureRate', 0.03),
    rdpShare: share('rdpShare', 0.1),
    timeZone: timeZoneOption,
  })
  .refine((o) => o.machines >= o.deliveryGroups.length, {
    path: ['machines'],
    error: (issue) => {
      const o = issue.input as { machines: number; deliveryGroups: string[] };
      return (
        `machines (${o.machines}) must be at least the number of deliveryGroups ` +
        `(${o.deliveryGroups.length}): every group needs a machine`
      );
    },
  });

/** Validated `demo` options, defaults filled in. `timeZone` stays absent unless given. */
export type DemoOptions = z.output<typeof demoOptionsSchema>;

/** The `demo` source plugin: a deterministic simulated Citrix site. */
export const demoSource: SourcePlugin<DemoOptions> = {
  kind: 'demo',
  description: 'A simulated Citrix site: sessions, logons and failures, for demos and benchmarks',
  options: demoOptionsSchema,
  defaultSchedule: '*/5 * * * *',
  create: (options, context) => new DemoSource(options, context),
};

class DemoSource implements Source {
  private readonly options: DemoOptions;
  private readonly context: SourceContext;
  private readonly site: DemoSite;

  constructor(options: DemoOptions, context: SourceContext) {
    this.options = options;
    this.context = context;
    this.site = new DemoSite(options, options.timeZone ?? context.timeZone);
  }

  async open(signal: AbortSignal): Promise<void> {
    throwIfAborted(signal, `source ${this.context.id} open`);
  }

  async capture(
    cursor: string | null,
    signal: AbortSignal,
    window?: CaptureWindow,
  ): Promise<CaptureResult> {
    const what = `source ${this.context.id} capture`;
    throwIfAborted(signal, what);

    const now = this.context.now();
    const since = window
      ? window.since
      : cursor === null
        ? now - this.options.backfillHours * HOUR_MS
        : this.parseCursor(cursor);
    const end = Math.min(window?.until ?? now, now);
    if (since >= end) return { records: [], cursor: String(since) };
    const until = Math.min(end, since + MAX_CAPTURE_MS);

    // Day by day, so that a long backfill can be stopped; a later day's record of a session
    // replaces the earlier one, which leaves each session as it stands at `until`.
    const sessions = new Map<string, SessionRecord>();
    const events: EventRecord[] = [];
    let days = 0;
    for (const batch of this.site.days(since, until)) {
      for (const session of batch.sessions) sessions.set(session.key, session);
      for (const event of batch.events) events.push(event);
      if (++days % DAYS_PER_TURN === 0) {
        await nextTurn();
        throwIfAborted(signal, what);
      }
    }

    const ordered = [...sessions.values()].sort(
      (a, b) => (a.startAt as number) - (b.startAt as number) || (a.key < b.key ? -1 : 1),
    );
    this.context.log.debug('captured', { sessions: ordered.length, events: events.length });
    const records: CaptureRecord[] = ordered;
    return { records: records.concat(events), cursor: String(until), more: until < end };
  }

  async close(): Promise<void> {}

  private parseCursor(cursor: string): number {
    const value = /^\d{1,16}$/.test(cursor) ? Number(cursor) : NaN;
    if (!Number.isSafeInteger(value)) {
      const shown = cursor.length > 40 ? `${cursor.slice(0, 40)}…` : cursor;
      throw new SourceError(
        'ECURSOR',
        this.context.id,
        `cursor ${JSON.stringify(shown)} is not an epoch-millisecond time`,
      );
    }
    return value;
  }
}
