import cronParser from 'cron-parser';

/** A job's schedule: a cron expression and the zone its times are read in. */
export interface Schedule {
  /** Five fields (minute hour day month weekday) or six with seconds first. */
  cron: string;
  /** IANA zone; absent means the agent's zone. */
  timeZone?: string | undefined;
}

/**
 * Checks a cron expression; returns null when it is valid, or what is wrong. Five fields
 * (minute hour day-of-month month day-of-week) or six with seconds in front.
 */
export function cronProblem(cron: string): string | null {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    return `a cron expression has 5 fields (minute hour day month weekday) or 6 with seconds first; this one has ${fields.length}`;
  }
  try {
    cronParser.parseExpression(cron);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The next `count` times (epoch ms) the schedule fires after `from`. */
export function nextRuns(schedule: Schedule, timeZone: string, from: number, count = 1): number[] {
  const it = cronParser.parseExpression(schedule.cron, {
    currentDate: new Date(from),
    tz: schedule.timeZone ?? timeZone,
  });
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(it.next().getTime());
  return times;
}
