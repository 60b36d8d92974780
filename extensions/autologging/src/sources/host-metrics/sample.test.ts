import fs from 'node:fs';
import type { CpuInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cpuBusyPercent, defaultDiskPath, parseMeminfo, readDisk, readMemory } from './sample.ts';

const fixture = (name: string) =>
  fs.readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

const cpu = (user: number, sys: number, idle: number): CpuInfo => ({
  model: 'test',
  speed: 2400,
  times: { user, nice: 0, sys, idle, irq: 0 },
});

describe('cpuBusyPercent', () => {
  it('gives the busy share of all cores between two snapshots', () => {
    const before = [cpu(1000, 500, 8000), cpu(2000, 0, 9000)];
    // Core 0 is busy 300 of 1000 ms, core 1 busy 200 of 1000 ms: 500 of 2000.
    const after = [cpu(1200, 600, 8700), cpu(2200, 0, 9800)];
    expect(cpuBusyPercent(before, after)).toBe(25);
  });

  it('gives 0 when no time passed', () => {
    const same = [cpu(1000, 500, 8000)];
    expect(cpuBusyPercent(same, same)).toBe(0);
  });

  it('ignores a core that appeared between the snapshots', () => {
    const before = [cpu(0, 0, 0)];
    expect(cpuBusyPercent(before, [cpu(100, 0, 100), cpu(5000, 0, 0)])).toBe(50);
  });
});

describe('parseMeminfo', () => {
  it('counts MemTotal minus MemAvailable as used', () => {
    expect(parseMeminfo(fixture('meminfo.txt'))).toEqual({
      usedBytes: (16301868 - 9727316) * 1024,
      totalBytes: 16301868 * 1024,
    });
  });

  it('returns null without a MemAvailable line', () => {
    expect(parseMeminfo('MemTotal:       16301868 kB\nMemFree:  1193424 kB\n')).toBeNull();
  });
});

describe('readMemory', () => {
  it.each(['linux', 'darwin'] as const)('reads this machine as %s would', async (platform) => {
    const memory = await readMemory(platform);
    expect(memory.totalBytes).toBeGreaterThan(0);
    expect(memory.usedBytes).toBeGreaterThan(0);
    expect(memory.usedBytes).toBeLessThanOrEqual(memory.totalBytes);
  });
});

describe('readDisk', () => {
  it('reads the root file system', async () => {
    const disk = await readDisk('/');
    expect(disk.totalBytes).toBeGreaterThan(0);
    expect(disk.usedBytes).toBeGreaterThanOrEqual(0);
    expect(disk.usedBytes).toBeLessThanOrEqual(disk.totalBytes);
  });

  it('rejects a path that does not exist', async () => {
    await expect(readDisk('/no/such/disk/path')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('defaultDiskPath', () => {
  it('is the root on POSIX systems', () => {
    expect(defaultDiskPath('linux')).toBe('/');
    expect(defaultDiskPath('darwin')).toBe('/');
  });

  it('is the system drive on Windows', () => {
    expect(defaultDiskPath('win32', { SystemDrive: 'D:' })).toBe('D:\\');
    expect(defaultDiskPath('win32', {})).toBe('C:\\');
  });
});
