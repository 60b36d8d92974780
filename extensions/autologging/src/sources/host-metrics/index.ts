import os from 'node:os';
import { z } from 'zod';
import { AbortedError, SourceError, describeError, sleep, throwIfAborted } from '../../errors.ts';
import type { HostLoadRecord, ProcessSample } from '../../records.ts';
import type { SourceContext, SourcePlugin } from '../types.ts';
import { sampleProcesses } from './processes.ts';
import { cpuBusyPercent, defaultDiskPath, readDisk, readMemory } from './sample.ts';
import type { Usage } from './sample.ts';

const wholeNumber = (option: string, min: number, max: number, unit: string) =>
  z
    .number({ error: `${option} must be a number${unit}` })
    .int({ error: `${option} must be a whole number${unit}` })
    .min(min, { error: `${option} must be at least ${min}${unit}` })
    .max(max, { error: `${option} must be at most ${max}${unit}` });

/**
 * The options of a `host-metrics` source. Defaults: `intervalMs` 1000 (100..10000), `diskPath`
 * absent (meaning `/`, or the system drive on Windows), `processes` false, `topProcesses` 5
 * (1..50). Unknown options are rejected; every message names the option.
 */
export const hostMetricsOptions = z.strictObject({
  /** How long CPU (and process) use is measured over. */
  intervalMs: wholeNumber('intervalMs', 100, 10_000, ' of milliseconds').default(1000),
  /** A path on the disk to measure. */
  diskPath: z
    .string({ error: 'diskPath must be a path' })
    .min(1, { error: 'diskPath must not be empty' })
    .optional(),
  /** Whether scheduled samples list the busiest processes; failure samples always do. */
  processes: z.boolean({ error: 'processes must be true or false' }).default(false),
  /** How many processes a sample lists. */
  topProcesses: wholeNumber('topProcesses', 1, 50, '').default(5),
});

/** Validated `host-metrics` options, defaults filled in. */
export type HostMetricsOptions = z.output<typeof hostMetricsOptions>;

/** Why a host sample is taken and whether it lists processes. */
export interface HostSampleRequest {
  reason: 'schedule' | 'failure';
  /** The code of the error that triggered a failure sample; null for a scheduled one. */
  triggerCode: string | null;
  withProcesses: boolean;
  signal?: AbortSignal;
}

/**
 * Samples this machine once: CPU over `options.intervalMs`, memory and disk at the end, and
 * the busiest processes when `withProcesses`. The agent also calls this when any capture
 * fails (`reason: 'failure'`, with processes); `hostMetricsOptions.parse({})` gives defaults.
 * `at` is `context.now()` at the end of the sample. A disk or process list that cannot be read
 * is null in the record and warned about once. Throws `AbortedError` when `signal` fires.
 */
export async function sampleHost(
  options: HostMetricsOptions,
  context: SourceContext,
  extra: HostSampleRequest,
): Promise<HostLoadRecord> {
  const { signal } = extra;
  const what = `host sample of source ${context.id}`;
  throwIfAborted(signal, what);

  const cpuBefore = os.cpus();
  const [cpuPercent, processes] = await Promise.all([
    sleep(options.intervalMs, signal, what).then(() => cpuBusyPercent(cpuBefore, os.cpus())),
    extra.withProcesses ? busiestOrNull(options, context, signal, what) : null,
  ]);
  const memory = await readMemory(context.platform);
  const disk = await diskOrNull(options.diskPath ?? defaultDiskPath(context.platform), context);
  throwIfAborted(signal, what);

  const host = os.hostname();
  const at = context.now();
  return {
    kind: 'host-load',
    key: `${host}:${at}`,
    host,
    at,
    cpuPercent,
    memoryUsedBytes: memory.usedBytes,
    memoryTotalBytes: memory.totalBytes,
    diskUsedBytes: disk?.usedBytes ?? null,
    diskTotalBytes: disk?.totalBytes ?? null,
    processes,
    reason: extra.reason,
    triggerCode: extra.triggerCode,
  };
}

/**
 * The `host-metrics` source: one host-load record per capture, no cursor. Runs every minute
 * unless its schedule says otherwise.
 */
export const hostMetricsSource: SourcePlugin<HostMetricsOptions> = {
  kind: 'host-metrics',
  description: "Samples this machine's CPU, memory and disk use, and its busiest processes",
  options: hostMetricsOptions,
  defaultSchedule: '* * * * *',
  create(options, context) {
    return {
      async open(signal) {
        throwIfAborted(signal, `opening source ${context.id}`);
      },
      async capture(_cursor, signal, window) {
        if (window) {
          throw new SourceError(
            'EWINDOW',
            context.id,
            'host load is sampled now; a past time window cannot be captured',
          );
        }
        const record = await sampleHost(options, context, {
          reason: 'schedule',
          triggerCode: null,
          withProcesses: options.processes,
          signal,
        });
        return { records: [record], cursor: null };
      },
      async close() {},
    };
  },
};

async function busiestOrNull(
  options: HostMetricsOptions,
  context: SourceContext,
  signal: AbortSignal | undefined,
  what: string,
): Promise<ProcessSample[] | null> {
  const sampling = { intervalMs: options.intervalMs, top: options.topProcesses, signal };
  try {
    return await sampleProcesses(context, sampling);
  } catch (error) {
    if (signal?.aborted) throw new AbortedError(what);
    context.log.warnOnce(
      `host-metrics:${context.id}:processes`,
      'the busiest processes could not be read; host samples will list none',
      { source: context.id, error: describeError(error) },
    );
    return null;
  }
}

async function diskOrNull(diskPath: string, context: SourceContext): Promise<Usage | null> {
  try {
    return await readDisk(diskPath);
  } catch (error) {
    context.log.warnOnce(
      `host-metrics:${context.id}:disk`,
      `disk use of ${diskPath} could not be read; host samples will show none`,
      { source: context.id, error: describeError(error) },
    );
    return null;
  }
}
