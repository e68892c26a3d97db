// The Node.js client against a live `cairn dev`: the distributed lifecycle end to end,
// and the ErrorInfo reasons of refusals.

'use strict';

const { after, before, test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');

const { CairnClient, errorInfo, hashFile, unary } = require('../src/client');
const { startDev } = require('./support');

let dev;
let work;

before(async () => {
  dev = await startDev();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-node-work-'));
});

after(() => {
  dev.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

function writeFiles(dir, files) {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
}

/** The refusal of `promise`, which must fail. */
async function refusal(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('the call succeeded');
}

test('two ranks add to one draft, rank 0 finishes, the download verifies every file', async () => {
  const shared = crypto.randomBytes(3 << 20); // larger than one PutBlob chunk
  writeFiles(path.join(work, 'r0'), { 'weights/0.bin': shared, 'config.json': '{"rank": 0}' });
  writeFiles(path.join(work, 'r1'), { 'weights/1.bin': crypto.randomBytes(100000), 'same.bin': shared });
  const ranks = [0, 1].map(() => new CairnClient(dev.address));
  try {
    const added = await Promise.all(
      ranks.map((client, rank) =>
        client.upsertDirectory({
          dir: path.join(work, `r${rank}`),
          artifact: 'node-ckpt',
          type: 'checkpoint',
          distributedId: 'node-job-1',
          writer: `rank-${rank}`,
          prefix: `rank${rank}`,
        })),
    );
    assert.deepEqual(added.map((a) => a.files), [2, 2]);
    const version = await ranks[0].finish({ artifact: 'node-ckpt', distributedId: 'node-job-1', expectedWriters: 2 });
    assert.equal(version.index, 0);
    assert.equal(version.file_count, 4);

    // A retried finish answers with the same version.
    const again = await ranks[1].finish({ artifact: 'node-ckpt', distributedId: 'node-job-1' });
    assert.equal(again.digest, version.digest);

    const restored = path.join(work, 'restored');
    const { files } = await ranks[0].download('node-ckpt:latest', restored);
    assert.deepEqual(files.sort(), ['rank0/config.json', 'rank0/weights/0.bin', 'rank1/same.bin', 'rank1/weights/1.bin']);
    assert.ok(fs.readFileSync(path.join(restored, 'rank1', 'same.bin')).equals(shared));
    assert.equal((await hashFile(path.join(restored, 'rank0', 'weights', '0.bin'))).sha256,
      crypto.createHash('sha256').update(shared).digest('hex'));
  } finally {
    ranks.forEach((c) => c.close());
  }
});

test('the example script runs three ranks into one version', async () => {
  const run = promisify(execFile);
  const { stdout } = await run(process.execPath, [path.join(__dirname, '..', 'distributed.js'), '--ranks', '3'], {
    env: { ...process.env, CAIRN_SERVER: dev.address },
    timeout: 120000,
  });
  assert.match(stdout, /rank 0 committed toy-checkpoint:v\d+ with 3 files/);
  assert.match(stdout, /downloaded and verified 3 files/);
});

test('refusals carry their ErrorInfo reason', async () => {
  const client = new CairnClient(dev.address);
  try {
    // An entry whose blob was never uploaded.
    const unknownBlob = await refusal(unary(client.coordinator, 'Upsert', {
      project: 'default', artifact: 'node-bad', type: 'dataset', distributed_id: 'j', writer_id: 'w',
      entries: [{ path: 'a.bin', sha256: 'ab'.repeat(32), size: 3 }], seal: true,
    }));
    assert.equal(errorInfo(unknownBlob).reason, 'BLOB_NOT_STORED');
    assert.equal(errorInfo(unknownBlob).metadata.path, 'a.bin');

    // Bytes that do not hash to the digest they were sent as.
    const file = path.join(work, 'liar.bin');
    fs.writeFileSync(file, 'not what the digest says');
    const mismatch = await refusal(client.putBlob(file, 'cd'.repeat(32), 24));
    assert.equal(errorInfo(mismatch).reason, 'DIGEST_MISMATCH');

    // Finishing a draft nobody opened.
    const unknownDraft = await refusal(client.finish({ artifact: 'node-bad', distributedId: 'never-opened' }));
    assert.equal(errorInfo(unknownDraft).reason, 'DRAFT_NOT_FOUND');
  } finally {
    client.close();
  }
});
