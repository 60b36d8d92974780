import type { Agent } from '../agent.ts';
import { readAgentInfo } from '../platform/agent-lock.ts';
import { addDays, dayOf, dayRange } from '../time.ts';
import { VERSION } from '../version.ts';
import type { ChartPoint, Overview } from './protocol.ts';

const HOUR = 3_600_000;

/**
 * What the window's Overview shows, computed from the journal's public queries: jobs with
 * their next and last runs, today's sessions and users, sessions open per hour over 7 and 30
 * days, sessions started per day, and recent failures. Personal fields are read as
 * pseudonyms only (the journal's default display), so no plain name leaves the agent.
 */
export function overview(agent: Agent, now: number = Date.now()): Overview {
  const zone = agent.timeZone;
  const today = dayOf(now, zone);
  const journal = agent.journal;
  const info = readAgentInfo(agent.paths);

  const next = agent.nextRuns();
  const last = new Map(journal.lastRuns().map((r) => [r.job, r]));
  const jobNames = [...new Set([...Object.keys(next), ...last.keys()])].sort();
  const jobs = jobNames.map((job) => {
    const run = last.get(job);
    return {
      job,
      next: next[job] ?? null,
      last: run
        ? {
            startedAt: run.startedAt,
            outcome: run.outcome,
            errorCode: run.errorCode,
            recordsNew: run.recordsNew,
          }
        : null,
    };
  });

  const todayRange = dayRange(today, zone);
  const users = new Set<string>();
  let todaySessions = 0;
  for (const s of journal.sessions(todayRange)) {
    todaySessions++;
    if (s.user) users.add(s.user);
  }

  // One pass over 30 days fills both hourly charts, the logons per day and failed sessions.
  const start30 = dayRange(addDays(today, -29), zone).start;
  const firstHour = Math.floor(start30 / HOUR) * HOUR;
  const hours = Math.ceil((now - firstHour) / HOUR);
  const open = new Array<number>(Math.max(hours, 0)).fill(0);
  const days = Array.from({ length: 30 }, (_, i) => addDays(today, i - 29));
  const dayIndex = new Map(days.map((d, i) => [d, i]));
  const logons = new Array<number>(30).fill(0);
  const failedSessions: Overview['failures'] = [];
  for (const s of journal.sessions({ start: start30, end: now })) {
    if (s.startAt === null) continue;
    const from = Math.max(s.startAt, firstHour);
    const to = Math.min(s.endAt ?? now, now);
    for (let h = Math.floor((from - firstHour) / HOUR); h * HOUR + firstHour < to; h++) {
      if (h >= 0 && h < open.length) open[h]!++;
    }
    const i = s.startAt >= start30 ? dayIndex.get(dayOf(s.startAt, zone)) : undefined;
    if (i !== undefined) logons[i]!++;
    if (s.failureCode !== null && s.startAt >= now - 7 * 24 * HOUR) {
      failedSessions.push({
        at: s.startAt,
        kind: 'session',
        what: s.machine ?? '',
        code: String(s.failureCode),
        message: s.failureReason ?? '',
        user: s.user ?? '',
      });
    }
  }
  const hourly: ChartPoint[] = open.map((value, h) => ({ at: firstHour + h * HOUR, value }));
  const start7 = now - 7 * 24 * HOUR;

  const failedRuns: Overview['failures'] = journal
    .recentRuns(20, { outcome: 'failed' })
    .map((r) => ({
      at: r.startedAt,
      kind: 'run',
      what: r.job,
      code: r.errorCode ?? 'EUNEXPECTED',
      message: r.errorMessage ?? '',
    }));
  const failures = [...failedRuns, ...failedSessions.slice(-20)]
    .sort((a, b) => b.at - a.at)
    .slice(0, 20);
  const { bytes: _bytes, ...records } = journal.stats();

  return {
    agent: {
      running: true,
      pid: process.pid,
      startedAt: info?.startedAt ?? null,
      version: VERSION,
    },
    timeZone: zone,
    today,
    firstRun: agent.firstRun,
    jobs,
    todaySessions,
    todayUsers: users.size,
    concurrent7: hourly.filter((p) => p.at + HOUR > start7),
    concurrent30: hourly,
    logonsPerDay: days.map((d, i) => ({ at: dayRange(d, zone).start, value: logons[i]! })),
    failures,
    records,
  };
}
