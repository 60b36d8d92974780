import { describe, expect, it } from 'vitest';
import type { EventRecord, SessionRecord } from '../../records.ts';
import { dayOf, zonedParts, zonedTime } from '../../time.ts';
import { DEMO_FAILURES, DemoSite, type DemoBatch } from './generator.ts';
import { demoOptionsSchema } from './index.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function site(options: Record<string, unknown> = {}, timeZone = 'Asia/Seoul'): DemoSite {
  return new DemoSite(demoOptionsSchema.parse(options), timeZone);
}

/** Local midnight of a calendar day in a zone. */
function midnight(timeZone: string, year: number, month: number, day: number): number {
  return zonedTime(timeZone, year, month, day);
}

/** The latest record of each session across consecutive windows, as a journal would keep it. */
function latest(batches: DemoBatch[]): Map<string, SessionRecord> {
  const sessions = new Map<string, SessionRecord>();
  for (const batch of batches) for (const s of batch.sessions) sessions.set(s.key, s);
  return sessions;
}

function byKey(sessions: SessionRecord[]): Map<string, SessionRecord> {
  return new Map(sessions.map((s) => [s.key, s]));
}

function localHours(at: number, timeZone: string): number {
  const p = zonedParts(at, timeZone);
  return p.hour + p.minute / 60;
}

/** A weekday's logons and logoffs, their sessions, for `users` people in Seoul. */
function weekday(users: number, options: Record<string, unknown> = {}) {
  const start = midnight('Asia/Seoul', 2024, 6, 4); // a Tuesday
  return site({ users, ...options }).between(start, start + 2 * DAY);
}

describe('DemoSite', () => {
  describe('determinism', () => {
    it('produces the same history from the same seed', () => {
      const since = midnight('Asia/Seoul', 2024, 5, 1);
      const a = site({ seed: 7 }).between(since, since + 3 * DAY);
      const b = site({ seed: 7 }).between(since, since + 3 * DAY);
      expect(a.events.length).toBeGreaterThan(100);
      expect(b).toEqual(a);
    });

    it('produces a different history from a different seed', () => {
      const since = midnight('Asia/Seoul', 2024, 5, 1);
      const a = site({ seed: 7 }).between(since, since + DAY);
      const b = site({ seed: 8 }).between(since, since + DAY);
      expect(site({ seed: 7 }).users).not.toEqual(site({ seed: 8 }).users);
      expect(b.events.map((e) => e.key)).not.toEqual(a.events.map((e) => e.key));
    });

    it('gives the same answer whether or not earlier days were planned first', () => {
      const since = midnight('Asia/Seoul', 2024, 5, 10);
      const warm = site();
      warm.between(since - 30 * DAY, since);
      expect(warm.between(since, since + DAY)).toEqual(site().between(since, since + DAY));
    });
  });

  describe('windows', () => {
    const zones = [
      'Asia/Seoul',
      'America/New_York',
      'Europe/London',
      'America/Santiago',
      'Australia/Lord_Howe',
      'Asia/Jerusalem',
    ];

    it('never yields an event outside the window', () => {
      const demo = site({ users: 100, failureRate: 0.2 });
      const start = midnight('Asia/Seoul', 2024, 3, 4);
      for (const [from, length] of [
        [0, 5 * 60_000],
        [8.5 * HOUR, 17 * 60_000],
        [12 * HOUR + 1, 3 * HOUR],
        [23 * HOUR, 10 * HOUR],
        [0, 9 * DAY],
      ] as const) {
        const since = start + from;
        const until = since + length;
        const { events, sessions } = demo.between(since, until);
        for (const e of events) {
          expect(e.at).toBeGreaterThan(since);
          expect(e.at).toBeLessThanOrEqual(until);
        }
        for (const s of sessions) expect(s.startAt).toBeLessThanOrEqual(until);
      }
    });

    it('returns nothing for an empty or reversed window', () => {
      const t = midnight('Asia/Seoul', 2024, 3, 4) + 9 * HOUR;
      expect(site().between(t, t)).toEqual({ sessions: [], events: [] });
      expect(site().between(t, t - HOUR)).toEqual({ sessions: [], events: [] });
    });

    it('rejects a window bound that is not a number', () => {
      expect(() => site().between(Number.NaN, 0)).toThrow(RangeError);
    });

    it.each(zones)('splits a window without losing or repeating anything (%s)', (zone) => {
      const demo = site({ users: 60 }, zone);
      const a = midnight(zone, 2024, 3, 8);
      const c = midnight(zone, 2024, 3, 12) + 7 * HOUR;
      const whole = demo.between(a, c);

      for (const b of [a + 11 * HOUR + 17_345, a + 2 * DAY + 8 * HOUR, c - 1]) {
        const first = demo.between(a, b);
        const second = demo.between(b, c);
        expect([...first.events, ...second.events]).toEqual(whole.events);
        expect(latest([first, second])).toEqual(byKey(whole.sessions));
      }
    });

    it('gives the same history to five-minute captures as to one long window', () => {
      const demo = site({ users: 80, failureRate: 0.1 }, 'America/New_York');
      const since = midnight('America/New_York', 2024, 11, 1) + 13 * 60_000;
      const until = midnight('America/New_York', 2024, 11, 5);
      const windows: DemoBatch[] = [];
      for (let t = since; t < until; t += 5 * 60_000) {
        windows.push(demo.between(t, Math.min(t + 5 * 60_000, until)));
      }
      const whole = demo.between(since, until);

      expect(windows.flatMap((w) => w.events)).toEqual(whole.events);
      expect(latest(windows)).toEqual(byKey(whole.sessions));
    });

    it('reports each session as it stands at the end of the window', () => {
      const demo = site({ users: 200, failureRate: 0.1 });
      const since = midnight('Asia/Seoul', 2024, 6, 3);
      const until = since + 12 * HOUR + 20 * 60_000; // in the middle of lunch
      const { sessions } = demo.between(since, until);
      const { events } = demo.between(since - DAY, until);
      const lastEvent = new Map<string, EventRecord>();
      for (const e of events) lastEvent.set(e.sessionKey as string, e);

      const expected = {
        logon: 'Active',
        reconnect: 'Active',
        disconnect: 'Disconnected',
        logoff: 'Terminated',
        failure: 'Failed',
      };
      const states = new Set<string>();
      for (const s of sessions) {
        states.add(s.state);
        expect(s.stateChangedAt).toBeLessThanOrEqual(until);
        const last = lastEvent.get(s.key);
        if (last) expect(s.state).toBe(expected[last.type]);
        else expect(s.state).toBe('Active'); // started, logon not finished yet
        if (s.state === 'Active' || s.state === 'Disconnected') expect(s.endAt).toBeNull();
        else expect(s.endAt).toBeLessThanOrEqual(until);
      }
      expect(states).toEqual(new Set(['Active', 'Disconnected', 'Terminated', 'Failed']));
    });

    it('leaves the logon duration empty until the logon has finished', () => {
      const demo = site({ users: 50 });
      const day = midnight('Asia/Seoul', 2024, 6, 3);
      const done = demo
        .between(day, day + 2 * DAY)
        .sessions.filter((s) => s.state === 'Terminated');
      expect(done.length).toBeGreaterThan(30);

      for (const s of done) {
        const start = s.startAt as number;
        const logonAt = start + (s.logonDurationMs as number);
        const atStart = demo.between(start - 1, start).sessions.find((x) => x.key === s.key);
        const atLogon = demo.between(logonAt - 1, logonAt).sessions.find((x) => x.key === s.key);
        expect(atStart).toMatchObject({ state: 'Active', stateChangedAt: start, endAt: null });
        expect(atStart?.logonDurationMs).toBeNull();
        expect(atLogon).toMatchObject({ state: 'Active', stateChangedAt: start, endAt: null });
        expect(atLogon?.logonDurationMs).toBe(s.logonDurationMs);
      }
    });
  });

  describe('days', () => {
    it('streams a long window one local day at a time, adding up to the whole', () => {
      const zone = 'America/New_York';
      const demo = site({ users: 50 }, zone);
      const since = midnight(zone, 2024, 3, 8) + 10 * HOUR;
      const until = midnight(zone, 2024, 3, 14) + 9 * HOUR;
      const batches = [...demo.days(since, until)];
      const whole = demo.between(since, until);

      expect(batches.map((b) => b.day)).toEqual([
        '2024-03-08',
        '2024-03-09',
        '2024-03-10',
        '2024-03-11',
        '2024-03-12',
        '2024-03-13',
        '2024-03-14',
      ]);
      expect(batches[0]?.since).toBe(since);
      expect(batches.at(-1)?.until).toBe(until);
      for (const [i, batch] of batches.entries()) {
        if (i > 0) expect(batch.since).toBe(batches[i - 1]?.until);
        expect(dayOf(batch.since, zone)).toBe(batch.day);
        expect(dayOf(batch.until - 1, zone)).toBe(batch.day);
      }
      // The spring-forward Sunday has 23 hours.
      expect(batches[2]?.until).toBe(midnight(zone, 2024, 3, 11));
      expect(midnight(zone, 2024, 3, 11) - midnight(zone, 2024, 3, 10)).toBe(23 * HOUR);
      expect(batches.flatMap((b) => b.events)).toEqual(whole.events);
      expect(latest(batches)).toEqual(byKey(whole.sessions));
    });

    it('yields nothing for an empty window', () => {
      const t = midnight('Asia/Seoul', 2024, 1, 1);
      expect([...site().days(t, t)]).toEqual([]);
    });
  });

  describe('the simulated site', () => {
    it('names machines after their delivery group and spreads them over all groups', () => {
      const demo = site({ machines: 7, domain: 'ACME' });
      expect(demo.machines.map((m) => m.name)).toEqual([
        'ACME\\VDA-OD-001',
        'ACME\\VDA-DD-001',
        'ACME\\VDA-CCA-001',
        'ACME\\VDA-OD-002',
        'ACME\\VDA-DD-002',
        'ACME\\VDA-CCA-002',
        'ACME\\VDA-OD-003',
      ]);
    });

    it('gives groups with the same initials distinct machine names', () => {
      const demo = site({ machines: 3, deliveryGroups: ['Sales Desk', 'Support Desk', '영업'] });
      const names = demo.machines.map((m) => m.name);
      expect(new Set(names).size).toBe(3);
      for (const name of names) expect(name).toMatch(/^CORP\\VDA-[A-Z0-9]{1,4}-001$/);
    });

    it('gives every user a unique account, even when names repeat', () => {
      const demo = site({ users: 20_000 });
      const accounts = demo.users.map((u) => u.account);
      expect(new Set(accounts).size).toBe(accounts.length);
      for (const account of accounts) expect(account).toMatch(/^[a-z]+\.[a-z]+\d*$/);
      expect(accounts.some((a) => /\d$/.test(a))).toBe(true);
    });

    it('mixes Korean and English people, about six in ten Korean', () => {
      const users = site({ users: 2000 }).users;
      const korean = users.filter((u) => /^[가-힣]{2,4}$/.test(u.fullName));
      const english = users.filter((u) => /^[A-Z][a-z]+ [A-Z][a-z]+$/.test(u.fullName));
      expect(korean.length + english.length).toBe(users.length);
      expect(korean.length / users.length).toBeGreaterThan(0.55);
      expect(korean.length / users.length).toBeLessThan(0.65);
    });

    it('gives endpoints names and addresses that never reveal the person', () => {
      for (const user of site({ users: 500 }).users) {
        const [given, family] = user.account.replace(/\d+$/, '').split('.') as [string, string];
        expect(user.clientName.toLowerCase()).not.toContain(given);
        expect(user.clientName.toLowerCase()).not.toContain(family);
        expect(user.clientName).toMatch(
          /^(KR-LT-\d{5}|WS-\d{5}|KR-MB-\d{5}|TC-\d{5}|HTML5-\d{6})$/,
        );
        expect(user.clientAddress).toMatch(/^(10\.20|172\.16|203\.0\.113)\.\d+(\.\d+)?$/);
        expect(user.clientVersion).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      }
    });

    it('never repeats a session key or an event key', () => {
      const demo = site({ users: 300, failureRate: 0.1 });
      const since = midnight('Asia/Seoul', 2024, 1, 1);
      const { sessions, events } = demo.between(since, since + 45 * DAY);
      const keys = sessions.map((s) => s.key);
      expect(new Set(keys).size).toBe(keys.length);
      for (const key of keys) expect(key).toMatch(UUID_V4);
      expect(new Set(events.map((e) => e.key)).size).toBe(events.length);
      for (const e of events) expect(e.key).toBe(`${e.sessionKey}:${e.type}:${e.at}`);
    });

    it('puts each session on a machine of its user’s delivery group', () => {
      const demo = site({ users: 100 });
      const groupOf = new Map(demo.machines.map((m) => [m.name, m.deliveryGroup]));
      const start = midnight('Asia/Seoul', 2024, 6, 4);
      const { sessions } = demo.between(start, start + 3 * DAY);
      expect(sessions.length).toBeGreaterThan(200);
      for (const s of sessions) {
        if (s.machine !== null) expect(groupOf.get(s.machine)).toBe(s.deliveryGroup);
        if (s.deliveryGroup === 'Call Center Apps') expect(s.sessionType).toBe('application');
      }
    });
  });

  describe('a simulated weekday', () => {
    const { sessions, events } = weekday(1000);
    const zone = 'Asia/Seoul';
    const today = dayOf(midnight(zone, 2024, 6, 4), zone);
    const todays = events.filter((e) => dayOf(e.at, zone) === today);

    it('has most logons between 7 and 10 local time', () => {
      const logons = todays.filter((e) => e.type === 'logon');
      const morning = logons.filter(
        (e) => localHours(e.at, zone) >= 7 && localHours(e.at, zone) < 10,
      );
      expect(logons.length).toBeGreaterThan(800);
      expect(morning.length / logons.length).toBeGreaterThan(0.9);
    });

    it('has most logoffs between 17 and 20 local time', () => {
      const logoffs = todays.filter((e) => e.type === 'logoff');
      const evening = logoffs.filter(
        (e) => localHours(e.at, zone) >= 17 && localHours(e.at, zone) <= 20,
      );
      expect(evening.length / logoffs.length).toBeGreaterThan(0.85);
    });

    it('has lunch-time disconnects followed by reconnects', () => {
      const lunch = todays.filter(
        (e) =>
          e.type === 'disconnect' &&
          localHours(e.at, zone) >= 11.8 &&
          localHours(e.at, zone) < 13.2,
      );
      const reconnects = todays.filter((e) => e.type === 'reconnect');
      expect(lunch.length).toBeGreaterThan(400);
      expect(reconnects.length).toBeGreaterThanOrEqual(lunch.length * 0.95);
    });

    it('has logon durations mostly of 8 to 45 seconds, none over three minutes', () => {
      const durations = sessions
        .filter((s) => s.logonDurationMs !== null)
        .map((s) => s.logonDurationMs as number);
      const usual = durations.filter((d) => d >= 8_000 && d <= 45_000);
      expect(usual.length / durations.length).toBeGreaterThan(0.85);
      expect(Math.max(...durations)).toBeLessThanOrEqual(180_000);
      expect(durations.some((d) => d > 60_000)).toBe(true);
    });

    it('has a few overnight sessions and a few very short ones', () => {
      const ended = sessions.filter((s) => s.state === 'Terminated');
      const overnight = ended.filter(
        (s) => dayOf(s.startAt as number, zone) !== dayOf(s.endAt as number, zone),
      );
      const short = ended.filter((s) => (s.endAt as number) - (s.startAt as number) < 10 * 60_000);
      expect(overnight.length).toBeGreaterThan(5);
      expect(overnight.length / ended.length).toBeLessThan(0.08);
      expect(short.length).toBeGreaterThan(3);
    });

    it('shows at least one Korean full name', () => {
      expect(sessions.some((s) => /^[가-힣]{2,4}$/.test(s.fullName as string))).toBe(true);
    });

    it('mostly uses HDX and desktops', () => {
      const hdx = sessions.filter((s) => s.protocol === 'HDX').length / sessions.length;
      const desktops = sessions.filter((s) => s.sessionType === 'desktop').length;
      expect(hdx).toBeGreaterThan(0.8);
      expect(hdx).toBeLessThan(0.97);
      expect(desktops / sessions.length).toBeGreaterThan(0.5);
      expect(desktops).toBeLessThan(sessions.length);
    });

    it('is far quieter at the weekend', () => {
      const saturday = midnight(zone, 2024, 6, 8);
      const weekend = site({ users: 1000 }).between(saturday, saturday + DAY);
      const logons = (list: EventRecord[]) => list.filter((e) => e.type === 'logon').length;
      expect(logons(weekend.events)).toBeGreaterThan(0);
      expect(logons(weekend.events)).toBeLessThan(logons(todays) / 10);
    });
  });

  describe('failures', () => {
    it('fails about failureRate of logon attempts over a big sample', () => {
      const demo = site({ users: 2000, failureRate: 0.03 });
      const since = midnight('Asia/Seoul', 2024, 6, 3);
      const { sessions } = demo.between(since, since + 5 * DAY);
      const failed = sessions.filter((s) => s.state === 'Failed').length;
      expect(sessions.length).toBeGreaterThan(8000);
      expect(failed / sessions.length).toBeGreaterThan(0.025);
      expect(failed / sessions.length).toBeLessThan(0.035);
    });

    it('never fails when failureRate is 0', () => {
      const { sessions } = weekday(300, { failureRate: 0 });
      expect(sessions.filter((s) => s.state === 'Failed')).toEqual([]);
    });

    it('records a failed attempt as a failure event and a Failed session with its code', () => {
      const { sessions, events } = weekday(1000, { failureRate: 0.2 });
      const codes = new Map(DEMO_FAILURES.map((f) => [f.code, f.reason]));
      const failures = events.filter((e) => e.type === 'failure');
      const failedSessions = byKey(sessions.filter((s) => s.state === 'Failed'));
      expect(failures.length).toBeGreaterThan(100);
      expect(new Set(failures.map((e) => e.code))).toEqual(new Set(codes.keys()));

      for (const e of failures) {
        expect(e.detail).toBe(codes.get(e.code as number));
        const s = failedSessions.get(e.sessionKey as string) as SessionRecord;
        expect(s).toMatchObject({ startAt: e.at, endAt: e.at, stateChangedAt: e.at });
        expect(s).toMatchObject({ failureCode: e.code, failureReason: e.detail });
        expect(s.logonDurationMs).toBeNull();
        expect(s.machine === null).toBe(e.code === 100);
      }
    });

    it('lets the user retry a few minutes after a failure', () => {
      const { events } = weekday(1000, { failureRate: 0.2 });
      const byUser = new Map<string, EventRecord[]>();
      for (const e of events)
        byUser.set(e.user as string, [...(byUser.get(e.user as string) ?? []), e]);
      let retried = 0;
      for (const list of byUser.values()) {
        const i = list.findIndex((e) => e.type === 'failure');
        const next = list[i + 1];
        if (i < 0 || !next) continue;
        if (next.type === 'logon' || next.type === 'failure') {
          const gap = next.at - (list[i] as EventRecord).at;
          expect(gap).toBeGreaterThanOrEqual(2 * 60_000);
          expect(gap).toBeLessThan(10 * 60_000);
          retried++;
        }
      }
      expect(retried).toBeGreaterThan(50);
    });
  });

  describe('time zones', () => {
    it('keeps office hours on the wall clock across a DST change (America/New_York)', () => {
      const zone = 'America/New_York';
      const demo = site({ users: 500 }, zone);
      // Friday before spring-forward to the Tuesday after, and the same around fall-back.
      for (const [month, day] of [
        [3, 8],
        [11, 1],
      ] as const) {
        const since = midnight(zone, 2024, month, day);
        const { events } = demo.between(since, since + 5 * DAY);
        const logons = events.filter((e) => e.type === 'logon');
        const weekdayLogons = logons.filter((e) => {
          const wd = zonedParts(e.at, zone).weekday;
          return wd >= 1 && wd <= 5;
        });
        const morning = weekdayLogons.filter(
          (e) => localHours(e.at, zone) >= 7.5 && localHours(e.at, zone) < 10.5,
        );
        expect(morning.length / weekdayLogons.length).toBeGreaterThan(0.9);
        // Weekend sessions start between 09:00 and 15:00 local, DST day included.
        const sunday = logons.filter((e) => zonedParts(e.at, zone).weekday === 0);
        expect(sunday.length).toBeGreaterThan(5);
        for (const e of sunday) {
          expect(localHours(e.at, zone)).toBeGreaterThanOrEqual(9);
          expect(localHours(e.at, zone)).toBeLessThan(16);
        }
      }
    });

    it('keeps office hours on a weekday with a DST change (Asia/Jerusalem)', () => {
      // Israel moves its clocks on Friday 2024-03-29 at 02:00, a working day here.
      const zone = 'Asia/Jerusalem';
      const friday = midnight(zone, 2024, 3, 29);
      const { events } = site({ users: 2000 }, zone).between(friday, friday + 23 * HOUR);
      const hours = events.filter((e) => e.type === 'logon').map((e) => localHours(e.at, zone));
      const morning = hours.filter((h) => h >= 7.5 && h < 10.5);

      expect(Math.min(...hours)).toBeGreaterThanOrEqual(7.5);
      expect(hours.filter((h) => h < 8).length).toBeGreaterThan(20);
      expect(morning.length / hours.length).toBeGreaterThan(0.9);
    });

    it('keeps every session’s events in order across DST changes', () => {
      for (const zone of ['America/New_York', 'Australia/Lord_Howe', 'America/Santiago']) {
        const demo = site({ users: 400 }, zone);
        for (const [month, day] of [
          [3, 8],
          [4, 4],
          [9, 5],
          [10, 4],
          [11, 1],
        ] as const) {
          const since = midnight(zone, 2024, month, day);
          const { events } = demo.between(since, since + 4 * DAY);
          const last = new Map<string, EventRecord>();
          for (const e of events) {
            const before = last.get(e.sessionKey as string);
            if (before) {
              expect(e.at).toBeGreaterThan(before.at);
              expect(e.type).not.toBe('logon');
            }
            last.set(e.sessionKey as string, e);
          }
        }
      }
    });

    it('refuses an unknown time zone', () => {
      expect(() => site({}, 'Mars/Olympus')).toThrow(RangeError);
    });
  });

  it('streams a year of 1000 users one local day at a time', () => {
    const demo = site({ users: 1000 });
    const since = midnight('Asia/Seoul', 2023, 1, 1);
    let events = 0;
    let days = 0;
    for (const batch of demo.days(since, midnight('Asia/Seoul', 2024, 1, 1))) {
      events += batch.events.length;
      days++;
    }
    expect(days).toBe(365);
    expect(events).toBeGreaterThan(500_000);
  });
});
