import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { AbortedError } from '../../errors.ts';
import { memoryLogger } from '../../log/logger.ts';
import type { CommandRunner } from '../../platform/command.ts';
import type { SourceContext } from '../types.ts';
import { hostMetricsOptions, hostMetricsSource, sampleHost } from './index.ts';
import type { HostMetricsOptions } from './index.ts';

const NOW = Date.UTC(2025, 0, 15, 9, 30);

const failingRunner: CommandRunner = async () => ({ stdout: '', stderr: 'no', exitCode: 1 });

function testContext(overrides: Partial<SourceContext> = {}) {
  const log = memoryLogger();
  const context: SourceContext = {
    id: 'host',
    log,
    timeZone: 'UTC',
    now: () => NOW,
    run: failingRunner,
    platform: process.platform,
    ...overrides,
  };
  return { context, log };
}

const options = (input: Record<string, unknown> = {}): HostMetricsOptions =>
  hostMetricsOptions.parse({ intervalMs: 100, ...input });

const scheduled = { reason: 'schedule', triggerCode: null, withProcesses: false } as const;

describe('hostMetricsOptions', () => {
  it('fills in the defaults', () => {
    expect(hostMetricsOptions.parse({})).toEqual({
      intervalMs: 1000,
      processes: false,
      topProcesses: 5,
    });
  });

  it.each([
    ['intervalMs', { intervalMs: 50 }],
    ['intervalMs', { intervalMs: 20_000 }],
    ['intervalMs', { intervalMs: 250.5 }],
    ['intervalMs', { intervalMs: '1000' }],
    ['diskPath', { diskPath: '' }],
    ['diskPath', { diskPath: 7 }],
    ['processes', { processes: 'yes' }],
    ['topProcesses', { topProcesses: 0 }],
    ['topProcesses', { topProcesses: 51 }],
    ['cpuThreshold', { cpuThreshold: 90 }],
  ])('rejects a bad %s with a message naming it', (option, input) => {
    const result = hostMetricsOptions.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.message).join('; ')).toContain(option);
  });
});

describe('sampleHost', () => {
  it('samples this machine with every value in range', async () => {
    const { context } = testContext();
    const record = await sampleHost(options(), context, scheduled);

    expect(record.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(record.cpuPercent).toBeLessThanOrEqual(100);
    expect(record.memoryTotalBytes).toBeGreaterThan(0);
    expect(record.memoryUsedBytes).toBeLessThanOrEqual(record.memoryTotalBytes);
    expect(record.diskTotalBytes).toBeGreaterThan(0);
    expect(record.diskUsedBytes).toBeLessThanOrEqual(record.diskTotalBytes ?? 0);
    expect(record).toMatchObject({ host: os.hostname(), at: NOW, processes: null });
  });

  it.runIf(process.platform === 'linux')('lists real processes when asked', async () => {
    const { context } = testContext();
    const record = await sampleHost(options({ topProcesses: 50 }), context, {
      reason: 'failure',
      triggerCode: 'EODATA',
      withProcesses: true,
    });

    expect(record).toMatchObject({ reason: 'failure', triggerCode: 'EODATA' });
    const processes = record.processes ?? [];
    expect(processes.length).toBeGreaterThan(0);
    expect(processes.length).toBeLessThanOrEqual(50);
    const ownOrNamed = processes.some((p) => p.pid === process.pid || p.name.length > 0);
    expect(ownOrNamed).toBe(true);
  });

  it('records no disk and warns once when the disk cannot be read', async () => {
    const { context, log } = testContext();
    const diskless = options({ diskPath: '/no/such/disk/path' });

    const first = await sampleHost(diskless, context, scheduled);
    await sampleHost(diskless, context, scheduled);

    expect(first).toMatchObject({ diskUsedBytes: null, diskTotalBytes: null });
    expect(first.memoryTotalBytes).toBeGreaterThan(0);
    const warnings = log.entries.filter((e) => e.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toContain('/no/such/disk/path');
  });

  it('records no processes and warns once when they cannot be listed', async () => {
    const { context, log } = testContext({ platform: 'darwin' });
    const withProcesses = { ...scheduled, withProcesses: true };

    const record = await sampleHost(options(), context, withProcesses);
    await sampleHost(options(), context, withProcesses);

    expect(record.processes).toBeNull();
    expect(record.cpuPercent).toBeGreaterThanOrEqual(0);
    const warnings = log.entries.filter((e) => e.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.fields).toMatchObject({ error: expect.stringContaining('EPROCESSES') });
  });

  it('stops promptly with AbortedError when the signal fires', async () => {
    const { context } = testContext();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);

    const sample = sampleHost(options({ intervalMs: 10_000 }), context, {
      ...scheduled,
      withProcesses: true,
      signal: controller.signal,
    });

    await expect(sample).rejects.toBeInstanceOf(AbortedError);
  });

  it('does not start when the signal has already fired', async () => {
    const { context } = testContext();
    const signal = AbortSignal.abort();
    await expect(sampleHost(options(), context, { ...scheduled, signal })).rejects.toMatchObject({
      code: 'EABORTED',
    });
  });
});

describe('hostMetricsSource', () => {
  it('is the host-metrics kind, run every minute by default', () => {
    expect(hostMetricsSource.kind).toBe('host-metrics');
    expect(hostMetricsSource.defaultSchedule).toBe('* * * * *');
  });

  it('captures exactly one scheduled host-load record and no cursor', async () => {
    const { context } = testContext();
    const source = hostMetricsSource.create(options(), context);
    const signal = new AbortController().signal;

    await source.open(signal);
    const result = await source.capture(null, signal);
    await source.close();

    expect(result.cursor).toBeNull();
    expect(result.records).toHaveLength(1);
    expect(result.records[0]).toMatchObject({
      kind: 'host-load',
      key: `${os.hostname()}:${NOW}`,
      reason: 'schedule',
      triggerCode: null,
      processes: null,
    });
  });

  it('lists processes in scheduled samples when its options say so', async () => {
    const run: CommandRunner = async () => ({
      stdout: '  1 2.5 100 launchd\n',
      stderr: '',
      exitCode: 0,
    });
    const { context } = testContext({ platform: 'darwin', run });
    const source = hostMetricsSource.create(options({ processes: true }), context);

    const result = await source.capture(null, new AbortController().signal);
    const record = result.records[0];

    expect(record?.kind === 'host-load' && record.processes).toEqual([
      { pid: 1, name: 'launchd', cpuPercent: 2.5, memoryBytes: 102400 },
    ]);
  });
});
