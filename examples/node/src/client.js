// A small cairn client for Node.js, built only from the .proto files in proto/.
//
// It does what a rank of a distributed training job does: hash a directory, upload the
// blobs the server is missing (PutBlob streams, verified by the server's sha256), add
// the files to one shared draft (Upsert, sealed), finish the draft into a version from
// rank 0 (Finish), and download a version, verifying every file's sha256 as it lands.
// Refusals carry a google.rpc.ErrorInfo whose `reason` is stable: `errorInfo(err)` reads it.

'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const path = require('node:path');
const { pipeline } = require('node:stream/promises');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTO_ROOT = path.resolve(__dirname, '../../../proto');
const CHUNK_BYTES = 1 << 20; // PutBlob chunks: well under gRPC's 4 MiB message limit
const MISSING_BATCH = 10000; // FindMissingBlobs takes at most 10,000 digests

const definition = protoLoader.loadSync(['cairn/v1/coordinator.proto', 'cairn/v1/storage.proto'], {
  includeDirs: [PROTO_ROOT],
  keepCase: true, // field names exactly as in the proto: distributed_id, writer_id, ...
  longs: Number, // sizes stay well below 2^53
  enums: String,
  defaults: true,
  oneofs: true,
});
const v1 = grpc.loadPackageDefinition(definition).cairn.v1;

// google.rpc.Status and ErrorInfo, enough to read the details of a refusal (the
// grpc-status-details-bin trailer): the two messages, written out as a descriptor.
const rpcTypes = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: { nested: { Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } } } },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
            ErrorInfo: {
              fields: {
                reason: { type: 'string', id: 1 },
                domain: { type: 'string', id: 2 },
                metadata: { keyType: 'string', type: 'string', id: 3 },
              },
            },
          },
        },
      },
    },
  },
});
const StatusType = rpcTypes.lookupType('google.rpc.Status');
const ErrorInfoType = rpcTypes.lookupType('google.rpc.ErrorInfo');

/** The ErrorInfo of a refused call ({reason, domain, metadata}), or null. */
function errorInfo(err) {
  const raw = err && err.metadata && err.metadata.get('grpc-status-details-bin')[0];
  if (!raw) return null;
  const status = StatusType.decode(raw);
  const detail = status.details.find((any) => any.type_url.endsWith('/google.rpc.ErrorInfo'));
  if (!detail) return null;
  const info = ErrorInfoType.toObject(ErrorInfoType.decode(detail.value), { defaults: true });
  return { reason: info.reason, domain: info.domain, metadata: info.metadata || {} };
}

/** Resolves a unary call's answer. */
function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

/** Collects every message of a server stream. */
function collect(stream) {
  return new Promise((resolve, reject) => {
    const messages = [];
    stream.on('data', (m) => messages.push(m));
    stream.on('error', reject);
    stream.on('end', () => resolve(messages));
  });
}

/** sha256 (lowercase hex) and size of a file, streamed. */
async function hashFile(file) {
  const hash = crypto.createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Every regular file under `dir`, as paths relative to it with '/' separators, sorted. */
async function walk(dir) {
  const files = [];
  async function visit(sub) {
    for (const entry of await fsp.readdir(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await visit(rel);
      else if (entry.isFile()) files.push(rel);
    }
  }
  await visit('');
  return files.sort();
}

class CairnClient {
  /**
   * @param {string} server host:port of a coordinator (`cairn dev` serves storage on the
   *   same port; a cluster's workers are found with ListStorageWorkers).
   * @param {object} [options] project (default "default").
   */
  constructor(server, options = {}) {
    this.server = server.replace(/^https?:\/\//, '');
    this.project = options.project || 'default';
    this.credentials = grpc.credentials.createInsecure();
    this.coordinator = new v1.CoordinatorService(this.server, this.credentials);
    this.workers = null;
  }

  close() {
    this.coordinator.close();
    for (const worker of this.workers || []) worker.close();
  }

  /** A storage worker client, taking turns over the live workers. */
  async storage() {
    if (!this.workers) {
      const reply = await unary(this.coordinator, 'ListStorageWorkers', {});
      const addresses = reply.addresses.length ? reply.addresses : [this.server];
      this.workers = addresses.map((a) => new v1.StorageService(a.replace(/^https?:\/\//, ''), this.credentials));
      this.next = 0;
    }
    const worker = this.workers[this.next % this.workers.length];
    this.next += 1;
    return worker;
  }

  /** Streams one file to a worker as blob `sha256`; the worker verifies the digest. */
  async putBlob(file, sha256, size) {
    const worker = await this.storage();
    return new Promise((resolve, reject) => {
      const call = worker.PutBlob((err, reply) => (err ? reject(err) : resolve(reply)));
      call.write({ header: { sha256, size, offset: 0 } });
      const source = fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
      source.on('data', (chunk) => {
        if (!call.write({ chunk })) {
          source.pause();
          call.once('drain', () => source.resume());
        }
      });
      source.on('error', (err) => {
        call.cancel();
        reject(err);
      });
      source.on('end', () => call.end());
    });
  }

  /**
   * Uploads the files under `dir` that the server lacks and adds all of them to the draft
   * `distributedId` of `artifact` as `writer`; with `seal`, this writer is done.
   * Returns the draft as the server reports it.
   */
  async upsertDirectory({ dir, artifact, type, distributedId, writer, seal = true, prefix = '' }) {
    const entries = [];
    for (const rel of await walk(dir)) {
      const { sha256, size } = await hashFile(path.join(dir, rel));
      entries.push({ path: prefix ? `${prefix}/${rel}` : rel, sha256, size, file: path.join(dir, rel) });
    }
    const digests = [...new Set(entries.map((e) => e.sha256))];
    const missing = new Set();
    for (let i = 0; i < digests.length; i += MISSING_BATCH) {
      const reply = await unary(this.coordinator, 'FindMissingBlobs', { sha256: digests.slice(i, i + MISSING_BATCH) });
      reply.missing.forEach((d) => missing.add(d));
    }
    let uploadedBytes = 0;
    for (const entry of entries) {
      if (!missing.has(entry.sha256)) continue;
      missing.delete(entry.sha256); // identical files are uploaded once
      await this.putBlob(entry.file, entry.sha256, entry.size);
      uploadedBytes += entry.size;
    }
    const reply = await unary(this.coordinator, 'Upsert', {
      project: this.project,
      artifact,
      type,
      distributed_id: distributedId,
      writer_id: writer,
      entries: entries.map(({ path: p, sha256, size }) => ({ path: p, sha256, size })),
      seal,
      request_id: crypto.randomUUID().replace(/-/g, ''), // a retry with the same id is not applied twice
    });
    return { draft: reply.draft, files: entries.length, uploadedBytes };
  }

  /** Commits the draft into the artifact's next version, waiting for its writers. */
  async finish({ artifact, distributedId, waitSeconds = 60, expectedWriters, aliases = [] }) {
    const request = {
      project: this.project,
      artifact,
      distributed_id: distributedId,
      wait_seconds: waitSeconds,
      aliases,
      request_id: crypto.randomUUID().replace(/-/g, ''),
    };
    if (expectedWriters !== undefined) request.expected_writers = expectedWriters;
    const reply = await unary(this.coordinator, 'Finish', request);
    return reply.version;
  }

  /** The version `reference` names (`name:v3`, `name:latest`, `name`) and its entries. */
  async manifest(reference) {
    const pages = await collect(this.coordinator.GetManifest({ project: this.project, reference }));
    return { version: pages[0].version, entries: pages.flatMap((p) => p.entries) };
  }

  /**
   * Downloads a version into `dir`, verifying each file's sha256 and size before it is
   * moved into place; returns the version and the files written.
   */
  async download(reference, dir) {
    const { version, entries } = await this.manifest(reference);
    for (const entry of entries) {
      const target = path.join(dir, ...entry.path.split('/'));
      await fsp.mkdir(path.dirname(target), { recursive: true });
      const partial = `${target}.partial`;
      const hash = crypto.createHash('sha256');
      let size = 0;
      const worker = await this.storage();
      const chunks = worker.GetBlob({ sha256: entry.sha256 });
      const verify = async function* (source) {
        for await (const message of source) {
          hash.update(message.chunk);
          size += message.chunk.length;
          yield message.chunk;
        }
      };
      await pipeline(chunks, verify, fs.createWriteStream(partial));
      const actual = hash.digest('hex');
      if (actual !== entry.sha256 || size !== entry.size) {
        await fsp.rm(partial, { force: true });
        throw new Error(`${entry.path}: expected ${entry.sha256} (${entry.size} bytes), got ${actual} (${size} bytes)`);
      }
      await fsp.rename(partial, target);
    }
    return { version, files: entries.map((e) => e.path) };
  }
}

module.exports = { CairnClient, errorInfo, hashFile, unary, walk };
