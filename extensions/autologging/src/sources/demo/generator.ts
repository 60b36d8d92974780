/**
 * A simulated Citrix site: users, VDAs, and the sessions they open day after day. Pure and
 * deterministic: the same options always produce the same site and the same history, whatever
 * windows it is asked for. No clock, no `Math.random`, no I/O.
 *
 * The history is planned one site-local day at a time: every session belongs to the day its
 * first logon attempt falls on, and each (day, user) pair draws from its own seeded generator,
 * so any day can be planned on its own and windows can be cut anywhere.
 */
import type { EventRecord, EventType, SessionRecord, SessionState } from '../../records.ts';
import { isValidTimeZone, zoneOffset, zonedParts, zonedTime } from '../../time.ts';

/** What the generator needs: the validated demo options, without the agent-level ones. */
export interface DemoSiteOptions {
  seed: number;
  users: number;
  machines: number;
  deliveryGroups: readonly string[];
  domain: string;
  /** Share of logon attempts that fail, 0-1. */
  failureRate: number;
  /** Share of users who connect with RDP instead of HDX, 0-1. */
  rdpShare: number;
}

/** One simulated person and the endpoint they connect from. */
export interface DemoUser {
  index: number;
  /** Account name without domain, unique in the site: `minjun.kim`, `james.miller2`. */
  account: string;
  /** `김민준` or `James Miller`. */
  fullName: string;
  deliveryGroup: string;
  /** Endpoint name, never derived from the person's name: `KR-LT-04821`, `WS-10234`. */
  clientName: string;
  clientAddress: string;
  /** Citrix Workspace app version, e.g. `24.2.0.65`. */
  clientVersion: string;
  /** Citrix ClientPlatform: Windows, Mac, Linux, HTML5. Records have no field for it. */
  clientPlatform: string;
  protocol: 'HDX' | 'RDP';
}

/** One VDA. */
export interface DemoMachine {
  /** `DOMAIN\VDA-OD-001`. */
  name: string;
  deliveryGroup: string;
}

/** Sessions and events of one window. */
export interface DemoBatch {
  /** Every session with a change in the window, as it stood at the window's end; by start. */
  sessions: SessionRecord[];
  /** Every event inside the window, by time. */
  events: EventRecord[];
}

/** One site-local day's part of a longer window. */
export interface DemoDayBatch extends DemoBatch {
  /** The site-local calendar day, `YYYY-MM-DD`. */
  day: string;
  /** The batch covers `(since, until]`, epoch ms. */
  since: number;
  until: number;
}

/** A Citrix SessionFailureCode the demo produces, with how often it is picked. */
export interface DemoFailure {
  code: number;
  reason: string;
  weight: number;
}

/**
 * The failures a logon attempt can end in: Citrix SessionFailureCode values and names, weighted
 * so that timeouts dominate and licensing trouble is rare.
 */
export const DEMO_FAILURES: readonly DemoFailure[] = [
  { code: 4, reason: 'ConnectionTimeout', weight: 30 },
  { code: 2, reason: 'SessionPreparation', weight: 20 },
  { code: 3, reason: 'RegistrationTimeout', weight: 15 },
  { code: 100, reason: 'NoMachineAvailable', weight: 12 },
  { code: 101, reason: 'MachineNotFunctional', weight: 10 },
  { code: 6, reason: 'Ticketing', weight: 8 },
  { code: 5, reason: 'Licensing', weight: 5 },
];

const DAY_MS = 86_400_000;
const DAY_S = 86_400;
const MINUTE_MS = 60_000;

/** Failed attempts after which a user gives up on that session. */
const MAX_ATTEMPTS = 4;
/** Planned days kept in memory; a capture every few minutes touches two or three. */
const PLAN_CACHE_DAYS = 8;
const CLOCK_CACHE_DAYS = 4096;

// Independent random streams drawn from the same seed.
const STREAM_USERS = 1;
const STREAM_DAYS = 2;
const STREAM_KEYS = 3;

/** The time of day `h:mm` in seconds. */
function hm(hours: number, minutes = 0): number {
  return hours * 3600 + minutes * 60;
}

// ---------------------------------------------------------------------------------------------
// Randomness

/** murmur3's 32-bit finaliser: a bijection that spreads every input bit. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

function hash32(seed: number, stream: number, a: number, b: number): number {
  let h = mix32((seed + Math.imul(stream, 0x9e3779b9)) | 0);
  h = mix32((h ^ a) + 0x7f4a7c15);
  return mix32((h ^ b) + 0x2545f491);
}

/** The 53-bit integer seed folded to 32 bits. */
function seedWord(seed: number): number {
  const low = seed >>> 0;
  const high = Math.floor(seed / 4294967296) >>> 0;
  return mix32(low ^ mix32(high + 0x6a09e667));
}

/** mulberry32: small, fast, and good enough for a simulation. */
class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  uint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  uniform(low: number, high: number): number {
    return low + this.next() * (high - low);
  }

  /** Bell-shaped within [low, high]: the mean of `k` uniforms (Irwin-Hall), never outside. */
  bell(low: number, high: number, k = 3): number {
    let sum = 0;
    for (let i = 0; i < k; i++) sum += this.next();
    return low + (sum / k) * (high - low);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  weighted<T extends { weight: number }>(items: readonly T[]): T {
    let total = 0;
    for (const item of items) total += item.weight;
    let r = this.next() * total;
    for (const item of items) {
      r -= item.weight;
      if (r < 0) return item;
    }
    return items[items.length - 1] as T;
  }
}

// ---------------------------------------------------------------------------------------------
// People and endpoints

interface Weighted<T> {
  value: T;
  weight: number;
}

/** Common Korean family names: Hangul, customary romanisation, rough share of the population. */
const KOREAN_FAMILY: readonly Weighted<[string, string]>[] = [
  { value: ['김', 'kim'], weight: 21.5 },
  { value: ['이', 'lee'], weight: 14.7 },
  { value: ['박', 'park'], weight: 8.4 },
  { value: ['최', 'choi'], weight: 4.7 },
  { value: ['정', 'jeong'], weight: 4.3 },
  { value: ['강', 'kang'], weight: 2.3 },
  { value: ['조', 'cho'], weight: 2.1 },
  { value: ['윤', 'yoon'], weight: 2.1 },
  { value: ['장', 'jang'], weight: 2.0 },
  { value: ['임', 'lim'], weight: 1.7 },
  { value: ['한', 'han'], weight: 1.5 },
  { value: ['오', 'oh'], weight: 1.5 },
  { value: ['서', 'seo'], weight: 1.5 },
  { value: ['신', 'shin'], weight: 1.5 },
  { value: ['권', 'kwon'], weight: 1.4 },
  { value: ['황', 'hwang'], weight: 1.4 },
  { value: ['안', 'ahn'], weight: 1.3 },
  { value: ['송', 'song'], weight: 1.3 },
  { value: ['류', 'ryu'], weight: 1.2 },
  { value: ['홍', 'hong'], weight: 1.1 },
];

/** Korean given names in Hangul and Revised Romanization (without the optional hyphen). */
const KOREAN_GIVEN: readonly [string, string][] = [
  ['민준', 'minjun'],
  ['서준', 'seojun'],
  ['도윤', 'doyun'],
  ['예준', 'yejun'],
  ['하준', 'hajun'],
  ['지호', 'jiho'],
  ['주원', 'juwon'],
  ['지훈', 'jihun'],
  ['준서', 'junseo'],
  ['준호', 'junho'],
  ['민재', 'minjae'],
  ['성민', 'seongmin'],
  ['정훈', 'jeonghun'],
  ['동현', 'donghyeon'],
  ['재원', 'jaewon'],
  ['태현', 'taehyeon'],
  ['승현', 'seunghyeon'],
  ['상훈', 'sanghun'],
  ['영호', 'yeongho'],
  ['영수', 'yeongsu'],
  ['성훈', 'seonghun'],
  ['정민', 'jeongmin'],
  ['태윤', 'taeyun'],
  ['서연', 'seoyeon'],
  ['서윤', 'seoyun'],
  ['서현', 'seohyeon'],
  ['민서', 'minseo'],
  ['하은', 'haeun'],
  ['하윤', 'hayun'],
  ['윤서', 'yunseo'],
  ['지민', 'jimin'],
  ['채원', 'chaewon'],
  ['수아', 'sua'],
  ['다은', 'daeun'],
  ['은서', 'eunseo'],
  ['예은', 'yeeun'],
  ['수빈', 'subin'],
  ['혜진', 'hyejin'],
  ['은지', 'eunji'],
  ['유진', 'yujin'],
  ['민지', 'minji'],
  ['수진', 'sujin'],
  ['지영', 'jiyeong'],
  ['소영', 'soyeong'],
  ['미영', 'miyeong'],
  ['예린', 'yerin'],
  ['나연', 'nayeon'],
  ['은비', 'eunbi'],
];

const ENGLISH_GIVEN: readonly string[] = [
  'James',
  'John',
  'Robert',
  'Michael',
  'William',
  'David',
  'Richard',
  'Joseph',
  'Thomas',
  'Daniel',
  'Matthew',
  'Andrew',
  'Mark',
  'Paul',
  'Steven',
  'Kevin',
  'Brian',
  'George',
  'Edward',
  'Ryan',
  'Mary',
  'Patricia',
  'Jennifer',
  'Linda',
  'Elizabeth',
  'Susan',
  'Jessica',
  'Sarah',
  'Karen',
  'Emily',
  'Laura',
  'Rachel',
  'Emma',
  'Olivia',
  'Hannah',
  'Grace',
  'Anna',
  'Claire',
  'Helen',
  'Lucy',
];

const ENGLISH_FAMILY: readonly string[] = [
  'Smith',
  'Johnson',
  'Williams',
  'Brown',
  'Jones',
  'Miller',
  'Davis',
  'Wilson',
  'Anderson',
  'Taylor',
  'Thomas',
  'Moore',
  'Martin',
  'Jackson',
  'Thompson',
  'White',
  'Harris',
  'Clark',
  'Lewis',
  'Walker',
  'Hall',
  'Allen',
  'Young',
  'King',
  'Wright',
  'Scott',
  'Green',
  'Baker',
  'Adams',
  'Nelson',
  'Carter',
  'Mitchell',
  'Roberts',
  'Turner',
  'Phillips',
  'Campbell',
  'Parker',
  'Evans',
  'Edwards',
  'Collins',
];

interface Endpoint {
  platform: string;
  weight: number;
  name: (rng: Rng) => string;
  versions: readonly string[];
}

function digits(rng: Rng, count: number): string {
  return String(rng.int(10 ** count)).padStart(count, '0');
}

/** Endpoint kinds, with the Workspace app versions each might run. */
const ENDPOINTS: readonly Endpoint[] = [
  {
    platform: 'Windows',
    weight: 40,
    name: (rng) => `KR-LT-${digits(rng, 5)}`,
    versions: ['22.3.6000.5', '23.9.1.104', '24.2.0.65', '24.2.0.65', '24.5.0.131'],
  },
  {
    platform: 'Windows',
    weight: 32,
    name: (rng) => `WS-${digits(rng, 5)}`,
    versions: ['22.3.6000.5', '23.3.0.38', '24.2.0.65', '24.5.0.131'],
  },
  {
    platform: 'Mac',
    weight: 10,
    name: (rng) => `KR-MB-${digits(rng, 5)}`,
    versions: ['23.11.0.51', '24.02.0.78', '24.05.0.89'],
  },
  {
    platform: 'Linux',
    weight: 12,
    name: (rng) => `TC-${digits(rng, 5)}`,
    versions: ['23.11.0.82', '24.2.0.65'],
  },
  {
    platform: 'HTML5',
    weight: 6,
    name: (rng) => `HTML5-${digits(rng, 6)}`,
    versions: ['24.3.0.10', '24.4.1.13'],
  },
];

function clientAddress(rng: Rng): string {
  const r = rng.next();
  // Mostly the office LAN, some on the second site's range, a few from outside through a gateway.
  if (r < 0.85) return `10.20.${rng.int(64)}.${1 + rng.int(254)}`;
  if (r < 0.97) return `172.16.${rng.int(32)}.${1 + rng.int(254)}`;
  return `203.0.113.${1 + rng.int(254)}`;
}

function pickWeighted<T>(rng: Rng, items: readonly Weighted<T>[]): T {
  return rng.weighted(items).value;
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** Initials of a delivery group's name for machine names: 'Call Center Apps' → 'CCA'. */
function groupAbbreviation(name: string, index: number): string {
  const initials = name
    .split(/[^A-Za-z0-9]+/)
    .filter((word) => word.length > 0)
    .map((word) => word.charAt(0).toUpperCase())
    .join('')
    .slice(0, 4);
  return initials || `G${index + 1}`;
}

// ---------------------------------------------------------------------------------------------
// The plan: sessions as timelines

/** A planned session: fixed once planned, read-only afterwards. */
interface Plan {
  key: string;
  user: DemoUser;
  machine: string | null;
  deliveryGroup: string;
  sessionType: 'desktop' | 'application';
  /** The logon attempt: session start, or the failure time. */
  startAt: number;
  /** When the logon finished (the logon event); null for a failed attempt. */
  logonAt: number | null;
  /** Disconnect and reconnect instants, alternating, disconnect first. */
  gaps: number[];
  /** The last change: logoff, or the failure time. */
  endAt: number;
  failure: DemoFailure | null;
}

/** A site-local calendar day and how its wall clock maps to instants. */
interface DayClock {
  /** `YYYY-MM-DD`. */
  label: string;
  year: number;
  month: number;
  day: number;
  weekday: number;
  /** The instant of local midnight. */
  start: number;
  /** The zone's offset over the whole day, or null when it changes during the day (DST). */
  offset: number | null;
}

/** A timeline shape for one session. */
type Shape = 'normal' | 'evening' | 'left-disconnected' | 'weekend' | 'short';

/**
 * A simulated Citrix site. Build it once from validated options and the site's time zone; then
 * ask for any window with `between`, or stream a long one day by day with `days`.
 *
 * @example
 * const site = new DemoSite(demoOptionsSchema.parse({ users: 100 }), 'Asia/Seoul');
 * const day = Date.parse('2024-06-03T00:00:00+09:00');
 * const { sessions, events } = site.between(day, day + 86_400_000);
 * for (const batch of site.days(day - 365 * 86_400_000, day)) store(batch);
 */
export class DemoSite {
  /** The simulated people, index = user number. */
  readonly users: readonly DemoUser[];
  /** The VDAs, spread round-robin over the delivery groups. */
  readonly machines: readonly DemoMachine[];
  readonly timeZone: string;

  private readonly options: DemoSiteOptions;
  private readonly seed: number;
  private readonly machinesByGroup = new Map<string, string[]>();
  private readonly appGroups = new Set<string>();
  private readonly feistelKeys: number[];
  private readonly plans = new Map<number, Plan[]>();
  private readonly clocks = new Map<number, DayClock>();

  /**
   * @param options validated demo options (the schema in `index.ts` checks ranges)
   * @param timeZone the site's IANA zone; days, office hours and lunch follow its wall clock
   * @throws RangeError when the zone is unknown, or there are fewer machines than groups
   */
  constructor(options: DemoSiteOptions, timeZone: string) {
    if (!isValidTimeZone(timeZone)) throw new RangeError(`unknown time zone: ${timeZone}`);
    if (options.machines < options.deliveryGroups.length) {
      throw new RangeError('every delivery group needs at least one machine');
    }
    this.options = options;
    this.timeZone = timeZone;
    this.seed = seedWord(options.seed);
    this.feistelKeys = [1, 2, 3, 4].map((k) => hash32(this.seed, STREAM_KEYS, k, 0));

    this.machines = this.buildMachines();
    this.users = this.buildUsers();
  }

  /**
   * Everything that happened in `(since, until]` (epoch ms): the events inside it, and every
   * session with a change inside it (start, logon completion, disconnect, reconnect, end,
   * failure) as it stood at `until`. A session that has not started by `until` is absent.
   * Windows compose: the events of `(a, b]` and `(b, c]` are exactly those of `(a, c]`, and a
   * session's latest record across them equals its record from `(a, c]`.
   *
   * @throws RangeError when `since` or `until` is not a finite number
   */
  between(since: number, until: number): DemoBatch {
    if (!Number.isFinite(since) || !Number.isFinite(until)) {
      throw new RangeError(`window bounds must be finite epoch milliseconds`);
    }
    if (until <= since) return { sessions: [], events: [] };
    // A session runs at most into the morning after its day, so the day before is enough.
    return this.collect(since, until, this.dayNumber(since) - 1, this.dayNumber(until));
  }

  /**
   * `between(since, until)` cut at site-local midnights, one day's batch at a time, for
   * backfilling long ranges with bounded memory. Concatenating the events of all batches gives
   * the events of the whole window; a session spanning midnight appears in each day's batch it
   * changes in, with its state at that batch's end.
   */
  *days(since: number, until: number): Generator<DemoDayBatch> {
    if (!Number.isFinite(since) || !Number.isFinite(until)) {
      throw new RangeError(`window bounds must be finite epoch milliseconds`);
    }
    let n = this.dayNumber(since);
    let from = since;
    while (from < until) {
      const to = Math.min(this.clock(n + 1).start, until);
      if (to > from) {
        yield {
          day: this.clock(n).label,
          since: from,
          until: to,
          ...this.collect(from, to, n - 1, n),
        };
        from = to;
      }
      n++;
    }
  }

  private collect(since: number, until: number, firstDay: number, lastDay: number): DemoBatch {
    const sessions: SessionRecord[] = [];
    const events: EventRecord[] = [];

    for (let n = firstDay; n <= lastDay; n++) {
      for (const plan of this.plan(n)) {
        if (plan.startAt > until || plan.endAt <= since) continue;
        if (!changesWithin(plan, since, until)) continue;
        sessions.push(this.sessionAsOf(plan, until));
        this.pushEvents(plan, since, until, events);
      }
    }

    sessions.sort((a, b) => (a.startAt as number) - (b.startAt as number) || cmp(a.key, b.key));
    events.sort((a, b) => a.at - b.at || cmp(a.key, b.key));
    return { sessions, events };
  }

  private sessionAsOf(plan: Plan, until: number): SessionRecord {
    let state: SessionState = 'Active';
    let changedAt = plan.startAt;
    if (plan.failure) {
      state = 'Failed';
    } else if (plan.endAt <= until) {
      state = 'Terminated';
      changedAt = plan.endAt;
    } else {
      for (let i = 0; i < plan.gaps.length && (plan.gaps[i] as number) <= until; i++) {
        state = i % 2 === 0 ? 'Disconnected' : 'Active';
        changedAt = plan.gaps[i] as number;
      }
    }

    const logonDone = plan.logonAt !== null && plan.logonAt <= until;
    const user = plan.user;
    return {
      kind: 'session',
      key: plan.key,
      user: user.account,
      domain: this.options.domain,
      fullName: user.fullName,
      machine: plan.machine,
      deliveryGroup: plan.deliveryGroup,
      clientName: user.clientName,
      clientAddress: user.clientAddress,
      clientVersion: user.clientVersion,
      protocol: user.protocol,
      sessionType: plan.sessionType,
      startAt: plan.startAt,
      endAt: state === 'Terminated' || state === 'Failed' ? plan.endAt : null,
      logonDurationMs: logonDone ? (plan.logonAt as number) - plan.startAt : null,
      state,
      stateChangedAt: changedAt,
      failureCode: plan.failure?.code ?? null,
      failureReason: plan.failure?.reason ?? null,
    };
  }

  private pushEvents(plan: Plan, since: number, until: number, out: EventRecord[]): void {
    const within = (at: number) => at > since && at <= until;
    if (plan.failure) {
      if (within(plan.startAt)) out.push(this.event(plan, 'failure', plan.startAt));
      return;
    }
    if (plan.logonAt !== null && within(plan.logonAt)) {
      out.push(this.event(plan, 'logon', plan.logonAt));
    }
    for (let i = 0; i < plan.gaps.length; i++) {
      const at = plan.gaps[i] as number;
      if (within(at)) out.push(this.event(plan, i % 2 === 0 ? 'disconnect' : 'reconnect', at));
    }
    if (within(plan.endAt)) out.push(this.event(plan, 'logoff', plan.endAt));
  }

  private event(plan: Plan, type: EventType, at: number): EventRecord {
    return {
      kind: 'event',
      key: `${plan.key}:${type}:${at}`,
      type,
      at,
      user: plan.user.account,
      domain: this.options.domain,
      machine: plan.machine,
      sessionKey: plan.key,
      clientName: plan.user.clientName,
      clientAddress: plan.user.clientAddress,
      code: plan.failure?.code ?? null,
      detail: plan.failure?.reason ?? null,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Planning a day

  /** The sessions whose first attempt falls on local day `n` (days since 1970-01-01). */
  private plan(n: number): Plan[] {
    const cached = this.plans.get(n);
    if (cached) {
      // Refresh its place so the least recently used day is dropped first.
      this.plans.delete(n);
      this.plans.set(n, cached);
      return cached;
    }

    const plans: Plan[] = [];
    const weekday = this.clock(n).weekday;
    const weekend = weekday === 0 || weekday === 6;
    for (const user of this.users) this.planUserDay(n, user, weekend, plans);
    // Days are planned in order, so windows come out nearly sorted and their sort is cheap.
    plans.sort((a, b) => a.startAt - b.startAt || cmp(a.key, b.key));

    this.plans.set(n, plans);
    if (this.plans.size > PLAN_CACHE_DAYS) {
      this.plans.delete(this.plans.keys().next().value as number);
    }
    return plans;
  }

  private planUserDay(n: number, user: DemoUser, weekend: boolean, out: Plan[]): void {
    const rng = new Rng(hash32(this.seed, STREAM_DAYS, n, user.index));
    if (!rng.chance(weekend ? 0.05 : 0.9)) return;

    const ordinal = { next: 0 };
    let shape: Shape = 'normal';
    if (weekend) {
      shape = 'weekend';
    } else {
      const r = rng.next();
      if (r < 0.015) shape = 'evening';
      else if (r < 0.03) shape = 'left-disconnected';
    }
    const mainType = this.appGroups.has(user.deliveryGroup) ? 'application' : 'desktop';
    this.planSession(n, user, rng, ordinal, shape, mainType, out);

    // Now and then a quick published-app session beside the main one.
    if (!weekend && rng.chance(0.03)) {
      this.planSession(n, user, rng, ordinal, 'short', 'application', out);
    }
  }

  private planSession(
    n: number,
    user: DemoUser,
    rng: Rng,
    ordinal: { next: number },
    shape: Shape,
    sessionType: 'desktop' | 'application',
    out: Plan[],
  ): void {
    const machines = this.machinesByGroup.get(user.deliveryGroup) as string[];
    const base = { user, deliveryGroup: user.deliveryGroup, sessionType };

    // Logon attempts: each may fail; the user tries again a few minutes later, or gives up.
    let startAt = this.instant(n, startOfShape(shape, rng)) + rng.int(1000);
    for (let attempt = 1; rng.chance(this.options.failureRate); attempt++) {
      const failure = rng.weighted(DEMO_FAILURES);
      out.push({
        ...base,
        key: this.sessionKey(n, user.index, ordinal.next++, rng),
        machine: failure.code === 100 ? null : rng.pick(machines),
        startAt,
        logonAt: null,
        gaps: [],
        endAt: startAt,
        failure,
      });
      if (attempt === MAX_ATTEMPTS) return;
      startAt += Math.round(rng.uniform(2, 8) * MINUTE_MS);
    }

    const logonAt = startAt + logonDuration(rng, shape);
    const { gaps, endAt } = this.timeline(n, shape, rng, logonAt);
    out.push({
      ...base,
      key: this.sessionKey(n, user.index, ordinal.next++, rng),
      machine: rng.pick(machines),
      startAt,
      logonAt,
      gaps,
      endAt,
      failure: null,
    });
  }

  /** What happens after the logon: lunch, going home, or staying overnight. */
  private timeline(
    n: number,
    shape: Shape,
    rng: Rng,
    logonAt: number,
  ): { gaps: number[]; endAt: number } {
    // At the site's wall-clock time `seconds` past midnight of day `n`, but a minute after
    // `after` at the earliest, so the timeline stays ordered even where DST bends the clock.
    const at = (seconds: number, after: number) =>
      Math.max(this.instant(n, seconds), after + MINUTE_MS);

    switch (shape) {
      case 'short':
        return { gaps: [], endAt: logonAt + Math.round(rng.uniform(20_000, 6 * MINUTE_MS)) };
      case 'weekend':
        return { gaps: [], endAt: logonAt + Math.round(rng.uniform(30, 240) * MINUTE_MS) };
      case 'evening':
        return { gaps: [], endAt: at(DAY_S + rng.uniform(hm(0, 30), hm(3, 30)), logonAt) };
    }

    const gaps: number[] = [];
    let last = logonAt;
    if (rng.chance(0.6)) {
      const away = at(rng.bell(hm(11, 50), hm(13, 10), 2), last);
      const back = away + Math.round(rng.uniform(30, 70) * MINUTE_MS);
      gaps.push(away, back);
      last = back;
    }
    const leave = at(rng.bell(hm(17), hm(20)), last);
    if (shape === 'normal') return { gaps, endAt: leave };

    // Left running overnight; the disconnected-session timer (or the user) ends it.
    gaps.push(leave);
    return { gaps, endAt: at(DAY_S + rng.uniform(hm(6), hm(7, 20)), leave) };
  }

  /**
   * A v4-format UUID, unique per (day, user, ordinal) by construction: those are packed into
   * 64 bits and scrambled by a keyed Feistel permutation, the rest is random filler.
   */
  private sessionKey(n: number, user: number, ordinal: number, rng: Rng): string {
    let left = n >>> 0;
    let right = (user * 256 + ordinal) >>> 0;
    for (const k of this.feistelKeys) {
      const next = (left ^ mix32(right ^ k)) >>> 0;
      left = right;
      right = next;
    }
    const a = rng.uint32();
    const b = rng.uint32();
    return (
      hex(left, 8) +
      '-' +
      hex(a >>> 16, 4) +
      '-4' +
      hex(a & 0xfff, 3) +
      '-' +
      hex(0x8000 | ((b >>> 16) & 0x3fff), 4) +
      '-' +
      hex(b & 0xffff, 4) +
      hex(right, 8)
    );
  }

  // -------------------------------------------------------------------------------------------
  // The site's wall clock

  /** The local calendar day containing `ms`, as days since 1970-01-01. */
  private dayNumber(ms: number): number {
    const p = zonedParts(ms, this.timeZone);
    return Date.UTC(p.year, p.month - 1, p.day) / DAY_MS;
  }

  private clock(n: number): DayClock {
    let clock = this.clocks.get(n);
    if (clock) return clock;

    const date = new Date(n * DAY_MS);
    const [year, month, day] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
    const next = new Date((n + 1) * DAY_MS);
    const start = zonedTime(this.timeZone, year, month, day);
    const end = zonedTime(
      this.timeZone,
      next.getUTCFullYear(),
      next.getUTCMonth() + 1,
      next.getUTCDate(),
    );
    const first = zoneOffset(start, this.timeZone);
    const steady = end - start === DAY_MS && zoneOffset(end - 1000, this.timeZone) === first;
    const label = date.toISOString().slice(0, 10);
    clock = {
      label,
      year,
      month,
      day,
      weekday: date.getUTCDay(),
      start,
      offset: steady ? first : null,
    };

    if (this.clocks.size >= CLOCK_CACHE_DAYS) this.clocks.clear();
    this.clocks.set(n, clock);
    return clock;
  }

  /** The instant the site's wall clock shows `seconds` past midnight of day `n` (or later days). */
  private instant(n: number, seconds: number): number {
    const extraDays = Math.floor(seconds / DAY_S);
    n += extraDays;
    seconds -= extraDays * DAY_S;
    const clock = this.clock(n);
    const ms = Math.round(seconds * 1000);
    if (clock.offset !== null) return n * DAY_MS + ms - clock.offset;

    // A DST day: ask the zone rules for the exact instant.
    const whole = Math.floor(ms / 1000);
    const h = Math.floor(whole / 3600);
    const m = Math.floor((whole % 3600) / 60);
    const s = whole % 60;
    return zonedTime(this.timeZone, clock.year, clock.month, clock.day, h, m, s) + (ms % 1000);
  }

  // -------------------------------------------------------------------------------------------
  // The fixed population

  private buildMachines(): DemoMachine[] {
    const groups = this.options.deliveryGroups;
    const abbreviations = new Set<string>();
    const abbreviationOf = groups.map((group, i) => {
      let abbreviation = groupAbbreviation(group, i);
      if (abbreviations.has(abbreviation)) abbreviation = `${abbreviation.slice(0, 3)}${i + 1}`;
      abbreviations.add(abbreviation);
      if (/\bapps?\b/i.test(group)) this.appGroups.add(group);
      this.machinesByGroup.set(group, []);
      return abbreviation;
    });

    const machines: DemoMachine[] = [];
    for (let m = 0; m < this.options.machines; m++) {
      const g = m % groups.length;
      const group = groups[g] as string;
      const list = this.machinesByGroup.get(group) as string[];
      const number = String(list.length + 1).padStart(3, '0');
      const name = `${this.options.domain}\\VDA-${abbreviationOf[g]}-${number}`;
      list.push(name);
      machines.push({ name, deliveryGroup: group });
    }
    return machines;
  }

  private buildUsers(): DemoUser[] {
    const taken = new Map<string, number>();
    const users: DemoUser[] = [];
    for (let index = 0; index < this.options.users; index++) {
      const rng = new Rng(hash32(this.seed, STREAM_USERS, index, 0));

      let account: string;
      let fullName: string;
      if (rng.chance(0.6)) {
        const [familyHangul, familyLatin] = pickWeighted(rng, KOREAN_FAMILY);
        const [givenHangul, givenLatin] = rng.pick(KOREAN_GIVEN);
        account = `${givenLatin}.${familyLatin}`;
        fullName = `${familyHangul}${givenHangul}`;
      } else {
        const given = rng.pick(ENGLISH_GIVEN);
        const family = rng.pick(ENGLISH_FAMILY);
        account = `${given}.${family}`.toLowerCase();
        fullName = `${capitalise(given)} ${capitalise(family)}`;
      }
      const seen = taken.get(account) ?? 0;
      taken.set(account, seen + 1);
      // Base names never end in a digit, so a numbered one cannot collide with a base name.
      if (seen > 0) account = `${account}${seen + 1}`;

      const endpoint = rng.weighted(ENDPOINTS);
      users.push({
        index,
        account,
        fullName,
        deliveryGroup: rng.pick(this.options.deliveryGroups),
        clientName: endpoint.name(rng),
        clientAddress: clientAddress(rng),
        clientVersion: rng.pick(endpoint.versions),
        clientPlatform: endpoint.platform,
        protocol: rng.chance(this.options.rdpShare) ? 'RDP' : 'HDX',
      });
    }
    return users;
  }
}

/** When a session of this shape first tries to log on, in seconds past local midnight. */
function startOfShape(shape: Shape, rng: Rng): number {
  switch (shape) {
    case 'evening':
      return rng.bell(hm(19), hm(22, 30), 2);
    case 'weekend':
      return rng.bell(hm(9), hm(15), 2);
    case 'short':
      return rng.uniform(hm(10), hm(16));
    default:
      return rng.bell(hm(7, 30), hm(9, 45));
  }
}

/** Logon duration in ms: lognormal around 18 s, a slow tail, capped at three minutes. */
function logonDuration(rng: Rng, shape: Shape): number {
  const median = shape === 'short' ? 9_000 : rng.chance(0.04) ? 55_000 : 18_000;
  const ms = median * Math.exp(0.45 * rng.normal());
  return Math.round(Math.min(180_000, Math.max(4_000, ms)));
}

function changesWithin(plan: Plan, since: number, until: number): boolean {
  const within = (at: number) => at > since && at <= until;
  if (within(plan.startAt) || within(plan.endAt)) return true;
  if (plan.logonAt !== null && within(plan.logonAt)) return true;
  return plan.gaps.some(within);
}

function hex(value: number, width: number): string {
  return (value >>> 0).toString(16).padStart(width, '0');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
