import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FieldCipher } from '../extensions/autologging/src/crypto/field-cipher.ts';
import { openKeyring } from '../extensions/autologging/src/crypto/keyring.ts';

/** A fresh folder for one benchmark, removed at exit. */
export function benchDir(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `autologging-bench-${name}-`));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A cipher with fresh keys in `dir`. */
export function benchCipher(dir: string): FieldCipher {
  return new FieldCipher(openKeyring({ home: dir }));
}

/** Runs `work` and returns its wall time in milliseconds. */
export async function time(work: () => unknown): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/** The median of `runs` timings of `work`, in milliseconds. */
export async function median(runs: number, work: () => unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await time(work));
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Prints a table row: label, then columns. */
export function row(cells: ReadonlyArray<string | number>): void {
  process.stdout.write(
    cells.map((c, i) => (i === 0 ? String(c).padEnd(44) : String(c).padStart(18))).join('') + '\n',
  );
}

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
