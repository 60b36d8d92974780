import fs from 'node:fs';
import os from 'node:os';
import type { CpuInfo } from 'node:os';

/** Used and total bytes of memory or of a disk. */
export interface Usage {
  usedBytes: number;
  totalBytes: number;
}

/**
 * The busy share of all cores between two `os.cpus()` snapshots, 0-100, rounded to 0.1.
 * Returns 0 when no time passed between them.
 */
export function cpuBusyPercent(before: readonly CpuInfo[], after: readonly CpuInfo[]): number {
  let total = 0;
  let idle = 0;
  for (const [i, cpu] of after.entries()) {
    const earlier = before[i];
    if (!earlier) continue;
    const t = cpu.times;
    const e = earlier.times;
    total += t.user + t.nice + t.sys + t.idle + t.irq - (e.user + e.nice + e.sys + e.idle + e.irq);
    idle += t.idle - e.idle;
  }
  if (total <= 0) return 0;
  return roundTenth(Math.min(100, Math.max(0, (1 - idle / total) * 100)));
}

/**
 * Memory in use from the text of Linux `/proc/meminfo`: MemTotal − MemAvailable, so that page
 * cache the kernel can drop does not count as used. Returns null when either line is missing
 * (kernels before 3.14 have no MemAvailable).
 */
export function parseMeminfo(text: string): Usage | null {
  const kib = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s*kB`, 'm').exec(text);
    return match?.[1] === undefined ? null : Number(match[1]) * 1024;
  };
  const total = kib('MemTotal');
  const available = kib('MemAvailable');
  if (total === null || available === null) return null;
  return { usedBytes: Math.max(0, total - available), totalBytes: total };
}

/**
 * This machine's memory use: from `/proc/meminfo` on Linux, otherwise (or when that cannot be
 * read) from `os.totalmem()` and `os.freemem()`.
 */
export async function readMemory(platform: NodeJS.Platform): Promise<Usage> {
  if (platform === 'linux') {
    const text = await fs.promises.readFile('/proc/meminfo', 'utf8').catch(() => '');
    const usage = parseMeminfo(text);
    if (usage) return usage;
  }
  const total = os.totalmem();
  return { usedBytes: Math.max(0, total - os.freemem()), totalBytes: total };
}

/** Used and total bytes of the file system holding `diskPath`. Throws what `statfs` throws. */
export async function readDisk(diskPath: string): Promise<Usage> {
  const stats = await fs.promises.statfs(diskPath);
  return {
    usedBytes: (stats.blocks - stats.bfree) * stats.bsize,
    totalBytes: stats.blocks * stats.bsize,
  };
}

/** The disk measured when none is set: `/`, or the system drive (`C:\`) on Windows. */
export function defaultDiskPath(
  platform: NodeJS.Platform,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (platform !== 'win32') return '/';
  return `${(env.SystemDrive ?? 'C:').replace(/\\$/, '')}\\`;
}

/** Rounds to one decimal, the precision worth showing for a percentage. */
export function roundTenth(value: number): number {
  return Math.round(value * 10) / 10;
}
