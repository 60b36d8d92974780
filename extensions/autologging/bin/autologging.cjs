#!/usr/bin/env node
// The `autologging` command. It checks the Node version before loading the bundle, so an
// old Node says what is wrong instead of failing on a missing built-in module.
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `error ENODEVERSION: AutoLogging needs Node 24 or newer; this is Node ${process.versions.node}.\n` +
      'Run it through npm (npm start, npx autologging), which uses the Node pinned in package.json.\n',
  );
  process.exit(2);
}
const bundle = path.join(__dirname, '..', 'dist', 'autologging.cjs');
if (!fs.existsSync(bundle)) {
  process.stderr.write(`error ENOBUILD: ${bundle} is missing; run npm run build.\n`);
  process.exit(2);
}
require(bundle);
