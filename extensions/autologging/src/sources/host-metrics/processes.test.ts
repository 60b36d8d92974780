import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CommandRunner } from '../../platform/command.ts';
import {
  busiestProcesses,
  GET_PROCESS_COMMAND,
  parseGetProcessJson,
  parseProcStat,
  parseProcStatm,
  parsePsOutput,
  pickBusiest,
  PS_COMMAND,
  sampleProcesses,
} from './processes.ts';

const fixture = (name: string) =>
  fs.readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

/** A runner answering each call with the next of `outputs`, recording what was run. */
function scriptedRunner(outputs: string[], exitCode = 0) {
  const calls: { file: string; args: readonly string[] }[] = [];
  const run: CommandRunner = async (file, args) => {
    calls.push({ file, args });
    return { stdout: outputs[calls.length - 1] ?? '', stderr: 'Access is denied.\r\n', exitCode };
  };
  return { run, calls };
}

describe('parseProcStat', () => {
  const lines = fixture('proc-stat.txt').trim().split('\n');

  it.each([
    [0, { pid: 1, name: 'systemd', cpuTicks: 312 + 487 }],
    [1, { pid: 14, name: 'ksoftirqd/0', cpuTicks: 39 }],
    [2, { pid: 812, name: 'tmux: server', cpuTicks: 1504 + 903 }],
    [3, { pid: 2231, name: 'Web Content', cpuTicks: 18234 + 2210 }],
    [4, { pid: 3107, name: 'my (odd) name', cpuTicks: 10 }],
    [5, { pid: 3310, name: 'evil) R 1 2 (3', cpuTicks: 15 }],
    [6, { pid: 4021, name: 'sh', cpuTicks: 0 }],
  ])('reads line %i, whatever its name holds', (index, expected) => {
    expect(parseProcStat(lines[index] ?? '')).toEqual(expected);
  });

  it.each(['', 'garbage', '77 (cut', '77 (short) S 1 2 3', 'x (name) S 1 1 1 0 -1 0 0 0 0 0 1 1'])(
    'returns null for the malformed line %j',
    (line) => {
      expect(parseProcStat(line)).toBeNull();
    },
  );
});

describe('parseProcStatm', () => {
  it('gives resident pages times the page size', () => {
    expect(parseProcStatm(fixture('proc-statm.txt'))).toBe(1210 * 4096);
  });

  it('returns null when there is no resident field', () => {
    expect(parseProcStatm('5893')).toBeNull();
    expect(parseProcStatm('')).toBeNull();
  });
});

describe('parseGetProcessJson', () => {
  it('reads an array and leaves out processes without CPU time', () => {
    const processes = parseGetProcessJson(fixture('get-process-before.json'));
    expect(processes.map((p) => p.name)).toEqual([
      'svchost',
      'CDViewer',
      'explorer',
      'notepad',
      'WfShell',
      'conhost',
    ]);
    expect(processes[1]).toEqual({
      pid: 4312,
      name: 'CDViewer',
      cpuSeconds: 402.15625,
      memoryBytes: 318767104,
    });
  });

  it('reads the single object PowerShell prints for one process', () => {
    expect(parseGetProcessJson(fixture('get-process-single.json'))).toEqual([
      { pid: 9140, name: 'wfica32', cpuSeconds: 5.046875, memoryBytes: 73400320 },
    ]);
  });

  it('reads empty output as no processes', () => {
    expect(parseGetProcessJson('\r\n')).toEqual([]);
  });

  it('throws on output that is not JSON', () => {
    expect(() => parseGetProcessJson('Get-Process : Access denied')).toThrow(SyntaxError);
  });
});

describe('parsePsOutput', () => {
  it('reads pid, CPU, memory and name, cutting paths to the program name', () => {
    expect(parsePsOutput(fixture('ps.txt'))).toEqual([
      { pid: 1, name: 'launchd', cpuPercent: 0, memoryBytes: 12880 * 1024 },
      { pid: 312, name: 'logd', cpuPercent: 3.4, memoryBytes: 48112 * 1024 },
      { pid: 501, name: 'Google Chrome', cpuPercent: 27.9, memoryBytes: 912344 * 1024 },
      { pid: 877, name: '-zsh', cpuPercent: 0, memoryBytes: 2048 * 1024 },
      { pid: 1204, name: 'Code Helper (Renderer)', cpuPercent: 12.5, memoryBytes: 1200 * 1024 },
      { pid: 2211, name: '(sshd)', cpuPercent: 0, memoryBytes: 0 },
      { pid: 3006, name: 'kworker/0:1-events', cpuPercent: 3.4, memoryBytes: 51200 * 1024 },
    ]);
  });
});

describe('busiestProcesses', () => {
  const before = parseGetProcessJson(fixture('get-process-before.json'));
  const after = parseGetProcessJson(fixture('get-process-after.json'));

  it('ranks by CPU used over the interval, ties by memory', () => {
    expect(busiestProcesses(before, after, 1000, 3)).toEqual([
      { pid: 4312, name: 'CDViewer', cpuPercent: 125, memoryBytes: 320864256 },
      { pid: 5120, name: 'explorer', cpuPercent: 25, memoryBytes: 152326144 },
      { pid: 7290, name: 'WfShell', cpuPercent: 25, memoryBytes: 41943040 },
    ]);
  });

  it('skips processes that ended or started during the interval', () => {
    const names = busiestProcesses(before, after, 1000, 50).map((p) => p.name);
    expect(names).toEqual(['CDViewer', 'explorer', 'WfShell', 'svchost', 'conhost']);
  });

  it('skips a pid reused by another program', () => {
    const reused = after.map((p) => (p.pid === 4312 ? { ...p, name: 'setup' } : p));
    expect(busiestProcesses(before, reused, 1000, 50).map((p) => p.pid)).not.toContain(4312);
  });

  it('scales CPU by the elapsed time', () => {
    expect(busiestProcesses(before, after, 500, 1)[0]?.cpuPercent).toBe(250);
  });
});

describe('pickBusiest', () => {
  it('breaks a tie in CPU and memory by pid, and keeps the input as it was', () => {
    const samples = [
      { pid: 9, name: 'b', cpuPercent: 1, memoryBytes: 10 },
      { pid: 3, name: 'a', cpuPercent: 1, memoryBytes: 10 },
    ];
    expect(pickBusiest(samples, 5).map((p) => p.pid)).toEqual([3, 9]);
    expect(samples[0]?.pid).toBe(9);
  });
});

describe('sampleProcesses', () => {
  it('runs Get-Process twice across the interval on Windows', async () => {
    const { run, calls } = scriptedRunner([
      fixture('get-process-before.json'),
      fixture('get-process-after.json'),
    ]);
    const top = await sampleProcesses(
      { id: 'host', platform: 'win32', run },
      { intervalMs: 100, top: 2 },
    );

    expect(calls).toEqual([
      { file: 'powershell.exe', args: GET_PROCESS_COMMAND },
      { file: 'powershell.exe', args: GET_PROCESS_COMMAND },
    ]);
    expect(top.map((p) => p.name)).toEqual(['CDViewer', 'explorer']);
  });

  it('runs ps once on other systems', async () => {
    const { run, calls } = scriptedRunner([fixture('ps.txt')]);
    const top = await sampleProcesses(
      { id: 'host', platform: 'darwin', run },
      { intervalMs: 100, top: 2 },
    );

    expect(calls).toEqual([{ file: 'ps', args: PS_COMMAND }]);
    expect(top.map((p) => p.name)).toEqual(['Google Chrome', 'Code Helper (Renderer)']);
  });

  it('fails with EPROCESSES when the command exits with an error', async () => {
    const { run } = scriptedRunner([''], 1);
    await expect(
      sampleProcesses({ id: 'host', platform: 'win32', run }, { intervalMs: 100, top: 5 }),
    ).rejects.toMatchObject({
      code: 'EPROCESSES',
      message: 'source host: powershell.exe exited with code 1: Access is denied.',
    });
  });

  it('fails with EPROCESSES when Get-Process prints something not JSON', async () => {
    const { run } = scriptedRunner(['Get-Process : Access is denied']);
    await expect(
      sampleProcesses({ id: 'host', platform: 'win32', run }, { intervalMs: 100, top: 5 }),
    ).rejects.toMatchObject({ code: 'EPROCESSES' });
  });

  it.runIf(process.platform === 'linux')('lists real processes from /proc on Linux', async () => {
    const { run, calls } = scriptedRunner([]);
    const top = await sampleProcesses(
      { id: 'host', platform: 'linux', run },
      { intervalMs: 200, top: 50 },
    );

    expect(calls).toEqual([]);
    expect(top.length).toBeGreaterThan(0);
    for (const p of top) {
      expect(p.pid).toBeGreaterThan(0);
      expect(p.name).not.toBe('');
      expect(p.cpuPercent).toBeGreaterThanOrEqual(0);
    }
    // Every process alive across the interval is ranked, so a short list holds this one.
    if (top.length < 50) expect(top.map((p) => p.pid)).toContain(process.pid);
  });
});
