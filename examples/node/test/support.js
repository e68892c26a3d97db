// Starts `cairn dev` on a free loopback port for the tests, and stops it by its pid.

'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

/** The cairn binary: $CAIRN_BIN (the README's test command sets it). */
function cairnBin() {
  const bin = process.env.CAIRN_BIN;
  if (!bin || !fs.existsSync(bin)) {
    throw new Error(`set CAIRN_BIN to a built cairn binary (got ${JSON.stringify(bin)}); scripts/test.sh does`);
  }
  return bin;
}

/** A running `cairn dev` with a data directory of its own: {address, stop()}. */
async function startDev() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-node-test-'));
  const child = spawn(cairnBin(), ['dev', '--listen', '127.0.0.1:0', '--data-dir', path.join(dataDir, 'data')], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const lines = readline.createInterface({ input: child.stdout });
  const address = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('cairn dev did not start within 30 s')), 30000);
    child.on('exit', (code) => reject(new Error(`cairn dev exited with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      const match = line.match(/127\.0\.0\.1:\d+/);
      match ? resolve(match[0]) : reject(new Error(`unexpected first line: ${line}`));
    });
  });
  return {
    address,
    stop() {
      process.kill(child.pid, 'SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

module.exports = { startDev };
