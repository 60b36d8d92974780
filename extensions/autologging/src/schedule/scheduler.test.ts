import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../log/logger.ts';
import { cronProblem, nextRuns } from './cron.ts';
import { Scheduler } from './scheduler.ts';

describe('cron', () => {
  it('lists the next runs in the schedule zone', () => {
    const from = Date.UTC(2026, 11, 3, 18, 0);
    const runs = nextRuns({ cron: '5 0 * * *' }, 'Asia/Seoul', from, 2);
    expect(runs.map((t) => new Date(t).toISOString())).toEqual([
      '2026-12-04T15:05:00.000Z',
      '2026-12-05T15:05:00.000Z',
    ]);
    expect(nextRuns({ cron: '5 0 * * *', timeZone: 'UTC' }, 'Asia/Seoul', from)).toEqual([
      Date.UTC(2026, 11, 4, 0, 5),
    ]);
  });

  it('explains what is wrong with an expression', () => {
    expect(cronProblem('*/5 * * * *')).toBeNull();
    expect(cronProblem('0 0 9 * * 1-5')).toBeNull();
    expect(cronProblem('every day')).toMatch(/5 fields/);
    expect(cronProblem('0 25 * * *')).toMatch(/range/i);
  });
});

describe('scheduler', () => {
  it('runs a job on demand and never lets it overlap itself', async () => {
    const log = memoryLogger();
    const scheduler = new Scheduler('UTC', log);
    let release!: () => void;
    let runs = 0;
    scheduler.replaceAll([
      {
        name: 'slow',
        schedule: { cron: '0 0 1 1 *' },
        run: async () => {
          runs++;
          await new Promise<void>((r) => (release = r));
        },
      },
    ]);

    const first = scheduler.runNow('slow', 'manual');
    expect(scheduler.running()).toEqual(['slow']);
    expect(await scheduler.runNow('slow', 'manual')).toBe(false);
    release();
    expect(await first).toBe(true);
    expect(runs).toBe(1);
    expect(scheduler.running()).toEqual([]);
    await scheduler.stop();
  });

  it('fires on its cron schedule, and stop waits for the run in progress', async () => {
    const scheduler = new Scheduler('UTC', memoryLogger());
    const fired: number[] = [];
    let finished = false;
    scheduler.replaceAll([
      {
        name: 'every-second',
        schedule: { cron: '* * * * * *' },
        run: async () => {
          fired.push(Date.now());
          await new Promise((r) => setTimeout(r, 300));
          finished = true;
        },
      },
    ]);
    expect(scheduler.next('every-second')).toBeGreaterThan(Date.now() - 1);
    while (fired.length === 0) await new Promise((r) => setTimeout(r, 50));
    await scheduler.stop();
    expect(finished).toBe(true);
    expect(await scheduler.runNow('every-second', 'manual')).toBe(false);
  });

  it('logs a job failure without stopping the scheduler', async () => {
    const log = memoryLogger();
    const scheduler = new Scheduler('UTC', log);
    scheduler.replaceAll([
      {
        name: 'broken',
        schedule: { cron: '0 0 1 1 *' },
        run: async () => {
          throw new Error('boom');
        },
      },
    ]);
    expect(await scheduler.runNow('broken', 'manual')).toBe(true);
    expect(log.entries.map((e) => e.message)).toEqual(['job broken failed']);
    expect(await scheduler.runNow('broken', 'manual')).toBe(true);
    await scheduler.stop();
  });
});
