#!/usr/bin/env node
// The `wfid` entry point. It checks the runtime before anything else is loaded: on an older
// Node.js the native modules (better-sqlite3, pkcs11js) would crash the process at some
// random later moment instead of failing here with one clear line. Keep this file to syntax
// that old Node.js versions parse; the program itself is imported after the check.
const MINIMUM_NODE_MAJOR = 24;

const major = Number(process.versions.node.split('.')[0]);
if (major < MINIMUM_NODE_MAJOR) {
  process.stderr.write(
    `wfid: Node.js ${process.versions.node} is not supported; workflow-identity needs Node.js ${MINIMUM_NODE_MAJOR} or later (24 and 26 are the LTS lines it is tested on) [ERR_UNSUPPORTED_RUNTIME]\n`,
  );
  process.exit(1);
}

await import('./program.js');
