#!/usr/bin/env node
// A distributed job in miniature, like examples/distributed_ranks.py: N ranks (plain
// processes) each write a shard of a "checkpoint" and add it to ONE cairn version under a
// shared distributed id; rank 0 finishes it; then the version is downloaded and every
// file's sha256 verified.
//
//   cairn dev &                          # or any cluster: CAIRN_SERVER=host:port
//   npm install && node distributed.js --ranks 4

'use strict';

const { fork } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { CairnClient } = require('./src/client');

const server = process.env.CAIRN_SERVER || '127.0.0.1:7420';
const artifact = 'toy-checkpoint';

async function rankMain(rank, world, runId, workdir) {
  const dir = path.join(workdir, `rank-${rank}`);
  fs.mkdirSync(dir, { recursive: true });
  const shard = `model-${String(rank).padStart(5, '0')}-of-${String(world).padStart(5, '0')}.bin`;
  fs.writeFileSync(path.join(dir, shard), crypto.randomBytes(256 * 1024)); // this rank's weights
  const client = new CairnClient(server);
  try {
    await client.upsertDirectory({
      dir,
      artifact,
      type: 'checkpoint',
      distributedId: runId,
      writer: `rank-${rank}`,
      prefix: 'shards',
    });
    if (rank === 0) {
      const version = await client.finish({ artifact, distributedId: runId, waitSeconds: 120, expectedWriters: world });
      console.log(`rank 0 committed ${artifact}:v${version.index} with ${version.file_count} files (${version.digest.slice(0, 12)})`);
    }
  } finally {
    client.close();
  }
}

async function main() {
  const ranksFlag = process.argv.indexOf('--ranks');
  const world = ranksFlag > 0 ? Number(process.argv[ranksFlag + 1]) : 4;
  const runId = `example-${crypto.randomBytes(4).toString('hex')}`;
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-node-'));
  try {
    const ranks = Array.from({ length: world }, (_, rank) =>
      fork(__filename, [], { env: { ...process.env, CAIRN_RANK: String(rank), CAIRN_WORLD: String(world), CAIRN_RUN_ID: runId, CAIRN_WORKDIR: workdir } }));
    const codes = await Promise.all(ranks.map((child) => new Promise((resolve) => child.on('exit', resolve))));
    if (codes.some((code) => code !== 0)) throw new Error(`a rank failed: exit codes ${codes}`);
    const client = new CairnClient(server);
    try {
      const { files } = await client.download(`${artifact}:latest`, path.join(workdir, 'restored'));
      console.log(`downloaded and verified ${files.length} files`);
    } finally {
      client.close();
    }
  } finally {
    fs.rmSync(workdir, { recursive: true, force: true });
  }
}

const done = (err) => {
  if (err) {
    console.error(err.message);
    process.exit(1);
  }
};
if (process.env.CAIRN_RANK !== undefined) {
  const env = process.env;
  rankMain(Number(env.CAIRN_RANK), Number(env.CAIRN_WORLD), env.CAIRN_RUN_ID, env.CAIRN_WORKDIR).then(() => done(), done);
} else {
  main().then(() => done(), done);
}
