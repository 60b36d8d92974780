import fs from 'node:fs';
import path from 'node:path';
import { SourceError, sleep } from '../../errors.ts';
import type { ProcessSample } from '../../records.ts';
import type { SourceContext } from '../types.ts';
import { roundTenth } from './sample.ts';

/** Linux counts process CPU time in ticks of USER_HZ, which is 100 on every mainstream build. */
const CLOCK_TICKS_PER_SECOND = 100;

/** `statm` counts in pages; 4 KiB on x86-64 and the usual arm64 kernels. */
const PAGE_BYTES = 4096;

/** How many processes are read from /proc at once, to stay far below the open-file limit. */
const PROC_BATCH = 64;

/** The PowerShell command listing processes on Windows, run twice across the interval. */
export const GET_PROCESS_COMMAND = [
  '-NoProfile',
  '-NonInteractive',
  '-Command',
  'Get-Process | Select-Object Id,ProcessName,CPU,WorkingSet64 | ConvertTo-Json -Compress',
] as const;

/** The `ps` arguments used on systems other than Linux and Windows. */
export const PS_COMMAND = ['-A', '-o', 'pid=,pcpu=,rss=,comm='] as const;

/** One process at one instant: the CPU time it has used so far and its resident memory. */
export interface ProcessTimes {
  pid: number;
  name: string;
  cpuSeconds: number;
  memoryBytes: number;
}

/** How the busiest processes are measured. */
export interface ProcessSampling {
  /** Time between the two snapshots, in milliseconds. */
  intervalMs: number;
  /** How many processes to return. */
  top: number;
  signal?: AbortSignal;
}

/**
 * The `top` busiest processes over `intervalMs`, by CPU and then by memory. `cpuPercent` is a
 * share of one core, so a process using two cores shows 200. Linux reads /proc, Windows runs
 * `Get-Process` twice through `context.run`, other systems run `ps` once after the interval (its
 * `pcpu` is the system's own recent average). Processes that start or end during the interval
 * are left out. Throws `SourceError` (`EPROCESSES`) when a command fails, `AbortedError` when
 * `signal` fires during the wait.
 */
export async function sampleProcesses(
  context: Pick<SourceContext, 'id' | 'platform' | 'run'>,
  { intervalMs, top, signal }: ProcessSampling,
): Promise<ProcessSample[]> {
  const what = `process sample of source ${context.id}`;

  if (context.platform === 'linux' || context.platform === 'win32') {
    const before = await snapshotTimes(context, signal);
    const startedAt = performance.now();
    await sleep(intervalMs, signal, what);
    const after = await snapshotTimes(context, signal);
    return busiestProcesses(before, after, performance.now() - startedAt, top);
  }

  await sleep(intervalMs, signal, what);
  return pickBusiest(parsePsOutput(await runChecked(context, 'ps', PS_COMMAND, signal)), top);
}

/**
 * The busiest processes between two snapshots taken `elapsedMs` apart. Only processes present
 * in both with the same name count: one that started, ended or whose pid was reused in between
 * has no fair CPU figure.
 */
export function busiestProcesses(
  before: readonly ProcessTimes[],
  after: readonly ProcessTimes[],
  elapsedMs: number,
  top: number,
): ProcessSample[] {
  if (elapsedMs <= 0) return [];
  const earlier = new Map(before.map((p) => [p.pid, p]));
  const samples: ProcessSample[] = [];
  for (const now of after) {
    const then = earlier.get(now.pid);
    if (then?.name !== now.name) continue;
    const busySeconds = Math.max(0, now.cpuSeconds - then.cpuSeconds);
    samples.push({
      pid: now.pid,
      name: now.name,
      cpuPercent: roundTenth((busySeconds / (elapsedMs / 1000)) * 100),
      memoryBytes: now.memoryBytes,
    });
  }
  return pickBusiest(samples, top);
}

/** The first `top` samples by CPU, then memory, then pid. Does not change `samples`. */
export function pickBusiest(samples: readonly ProcessSample[], top: number): ProcessSample[] {
  return [...samples]
    .sort((a, b) => b.cpuPercent - a.cpuPercent || b.memoryBytes - a.memoryBytes || a.pid - b.pid)
    .slice(0, top);
}

/**
 * Pid, name and CPU ticks (utime + stime) from one Linux `/proc/<pid>/stat` line. The name sits
 * between the first `(` and the last `)`, since it may itself hold spaces and parentheses.
 * Returns null for a line that does not have that shape.
 */
export function parseProcStat(
  line: string,
): { pid: number; name: string; cpuTicks: number } | null {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return null;

  const pid = Number(line.slice(0, open));
  // Fields after the name start at field 3 (state); utime and stime are fields 14 and 15.
  const fields = line
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isFinite(cpuTicks)) return null;
  return { pid, name: line.slice(open + 1, close), cpuTicks };
}

/** Resident memory in bytes from `/proc/<pid>/statm` (its second field, in pages), or null. */
export function parseProcStatm(text: string): number | null {
  const pages = Number(text.trim().split(/\s+/)[1]);
  return Number.isInteger(pages) && pages >= 0 ? pages * PAGE_BYTES : null;
}

/**
 * Processes from `Get-Process | Select-Object Id,ProcessName,CPU,WorkingSet64 | ConvertTo-Json`,
 * which prints a single object rather than an array when there is one process. Processes whose
 * `CPU` is null (ones this account may not inspect) are left out. Throws `SyntaxError` on text
 * that is not JSON.
 */
export function parseGetProcessJson(text: string): ProcessTimes[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const parsed: unknown = JSON.parse(trimmed);

  const found: ProcessTimes[] = [];
  for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
    if (typeof item !== 'object' || item === null) continue;
    const { Id, ProcessName, CPU, WorkingSet64 } = item as Record<string, unknown>;
    if (typeof Id !== 'number' || typeof ProcessName !== 'string' || typeof CPU !== 'number')
      continue;
    const memoryBytes = typeof WorkingSet64 === 'number' ? WorkingSet64 : 0;
    found.push({ pid: Id, name: ProcessName, cpuSeconds: CPU, memoryBytes });
  }
  return found;
}

/**
 * Processes from `ps -A -o pid=,pcpu=,rss=,comm=` (rss in KiB). A name given as a full path,
 * as macOS prints it, is cut to its last part; lines of another shape are skipped.
 */
export function parsePsOutput(text: string): ProcessSample[] {
  const found: ProcessSample[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*(\d+)\s+(\d+(?:[.,]\d+)?)\s+(\d+)\s+(.*\S)\s*$/.exec(line);
    if (!match) continue;
    const [, pid = '', pcpu = '', rss = '', comm = ''] = match;
    found.push({
      pid: Number(pid),
      name: comm.startsWith('/') ? path.posix.basename(comm) : comm,
      cpuPercent: Number(pcpu.replace(',', '.')),
      memoryBytes: Number(rss) * 1024,
    });
  }
  return found;
}

/** CPU time and memory of every process: from /proc on Linux, `Get-Process` on Windows. */
async function snapshotTimes(
  context: Pick<SourceContext, 'id' | 'platform' | 'run'>,
  signal: AbortSignal | undefined,
): Promise<ProcessTimes[]> {
  if (context.platform === 'linux') return readProcTimes();

  const output = await runChecked(context, 'powershell.exe', GET_PROCESS_COMMAND, signal);
  try {
    return parseGetProcessJson(output);
  } catch (error) {
    throw new SourceError('EPROCESSES', context.id, 'Get-Process printed something not JSON', {
      cause: error,
    });
  }
}

/** Every process /proc lets this account read, in batches. */
async function readProcTimes(): Promise<ProcessTimes[]> {
  const pids = (await fs.promises.readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const found: ProcessTimes[] = [];
  for (let i = 0; i < pids.length; i += PROC_BATCH) {
    const batch = await Promise.all(pids.slice(i, i + PROC_BATCH).map(readProcess));
    for (const entry of batch) if (entry) found.push(entry);
  }
  return found;
}

async function readProcess(pid: string): Promise<ProcessTimes | null> {
  try {
    const [stat, statm] = await Promise.all([
      fs.promises.readFile(`/proc/${pid}/stat`, 'utf8'),
      fs.promises.readFile(`/proc/${pid}/statm`, 'utf8'),
    ]);
    const times = parseProcStat(stat);
    const memoryBytes = parseProcStatm(statm);
    if (!times || memoryBytes === null) return null;
    return {
      pid: times.pid,
      name: times.name,
      cpuSeconds: times.cpuTicks / CLOCK_TICKS_PER_SECOND,
      memoryBytes,
    };
  } catch {
    // The process ended while it was being read: it is simply not part of this sample.
    return null;
  }
}

/** Runs a command and returns its output; throws `EPROCESSES` when it exits with an error. */
async function runChecked(
  context: Pick<SourceContext, 'id' | 'run'>,
  file: string,
  args: readonly string[],
  signal: AbortSignal | undefined,
): Promise<string> {
  const output = await context.run(file, args, { signal, timeoutMs: 30_000 });
  if (output.exitCode !== 0) {
    const reason = output.stderr.trim().split('\n')[0]?.slice(0, 200) ?? '';
    throw new SourceError(
      'EPROCESSES',
      context.id,
      `${file} exited with code ${output.exitCode}${reason ? `: ${reason}` : ''}`,
    );
  }
  return output.stdout;
}
