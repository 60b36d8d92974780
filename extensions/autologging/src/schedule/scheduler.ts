import schedule from 'node-schedule';
import type { Logger } from '../log/logger.ts';
import type { Trigger } from '../journal/journal.ts';
import type { Schedule } from './cron.ts';

/** A job the scheduler runs. */
export interface JobSpec {
  /** Unique name, e.g. `capture:demo`, `export`, `maintenance`. */
  name: string;
  schedule: Schedule;
  /** Does the work. Errors are the job's own business: they are logged here only if thrown. */
  run(trigger: Trigger): Promise<void>;
}

interface Entry {
  spec: JobSpec;
  job: schedule.Job | null;
  inFlight: Promise<void> | null;
}

/**
 * Runs jobs on cron schedules with node-schedule. A job never overlaps itself: a run that
 * falls due while the previous one is still going is skipped (and said once in the log).
 */
export class Scheduler {
  readonly #entries = new Map<string, Entry>();
  #timeZone: string;
  readonly #log: Logger;
  #stopped = false;

  constructor(timeZone: string, log: Logger) {
    this.#timeZone = timeZone;
    this.#log = log;
  }

  /**
   * Replaces all jobs with `specs` (read in `timeZone` when given); runs in progress are left
   * to finish and still keep their job from overlapping.
   */
  replaceAll(specs: readonly JobSpec[], timeZone?: string): void {
    if (timeZone) this.#timeZone = timeZone;
    for (const entry of this.#entries.values()) entry.job?.cancel();
    const previous = new Map(this.#entries);
    this.#entries.clear();
    for (const spec of specs) {
      const entry: Entry = { spec, job: null, inFlight: previous.get(spec.name)?.inFlight ?? null };
      entry.job = schedule.scheduleJob(
        spec.name,
        { rule: spec.schedule.cron, tz: spec.schedule.timeZone ?? this.#timeZone },
        () => void this.#fire(entry, 'schedule'),
      );
      this.#entries.set(spec.name, entry);
    }
  }

  /**
   * Runs a job now, outside its schedule. Resolves false without running when the job is
   * unknown or already running, or the scheduler has stopped.
   */
  async runNow(name: string, trigger: Trigger): Promise<boolean> {
    const entry = this.#entries.get(name);
    if (!entry || entry.inFlight || this.#stopped) return false;
    await this.#fire(entry, trigger);
    return true;
  }

  /** When a job fires next (epoch ms), or null. */
  next(name: string): number | null {
    const at = this.#entries.get(name)?.job?.nextInvocation();
    return at ? at.getTime() : null;
  }

  /** Names of all jobs. */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  /** Names of jobs running now. */
  running(): string[] {
    return [...this.#entries.values()].filter((e) => e.inFlight).map((e) => e.spec.name);
  }

  /** Stops firing jobs and resolves when every run in progress has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const entry of this.#entries.values()) entry.job?.cancel();
    await this.idle();
  }

  /** Resolves when no job is running. */
  async idle(): Promise<void> {
    const runs = [...this.#entries.values()].map((e) => e.inFlight).filter((p) => p !== null);
    await Promise.allSettled(runs);
  }

  async #fire(entry: Entry, trigger: Trigger): Promise<void> {
    if (this.#stopped) return;
    if (entry.inFlight) {
      this.#log.warnOnce(
        `overlap:${entry.spec.name}`,
        `job ${entry.spec.name} was still running when it fell due again; that run was skipped`,
      );
      return;
    }
    const run = entry.spec
      .run(trigger)
      .catch((error: unknown) => {
        this.#log.error(`job ${entry.spec.name} failed`, { error: String(error) });
      })
      .finally(() => {
        entry.inFlight = null;
      });
    entry.inFlight = run;
    await run;
  }
}
