// Runs every benchmark in bench/ in turn, each in its own Node process.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const only = process.argv[2];
for (const name of fs
  .readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort()) {
  if (only && !name.includes(only)) continue;
  process.stdout.write(`\n== ${name}\n`);
  execFileSync(process.execPath, [path.join(here, name)], { stdio: 'inherit' });
}
