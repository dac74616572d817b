/**
 * The stores under test, seen from the driver: the S3 and GCS test servers
 * (started in their own child process, servers-child.ts), a local directory,
 * and the clients the driver uses to read every produced object back, hash
 * it (sha256, outside the timed region) and delete it.
 */
import { DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Storage } from '@google-cloud/storage';
import { generateKeyPairSync, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { buildGcsStorage, type GcsServiceAccountKey } from '../../src/storage/gcs/client.js';
import { buildS3Client } from '../../src/storage/s3/client.js';
import { cleanEnv, startTsChild, type TsChild } from './proc.js';

export type StoreName = 'local' | 's3' | 'gcs';
export const STORES: StoreName[] = ['local', 's3', 'gcs'];
export const BUCKET = 'bench';
export const S3_CREDENTIALS = { accessKeyId: 'AKIDBLOBGATEBENCH', secretAccessKey: 'blobgate-bench-secret-key' } as const;
export const S3_REGION = 'us-east-1';

/** Part/chunk sizes and concurrency, the same for blobgate, rclone and the SDK baselines. */
export const S3_PART_SIZE = 8 * 1024 * 1024;
export const S3_QUEUE_SIZE = 4;
/** rclone 1.60's GCS backend has no chunk-size option: it always uses 16 MiB (googleapi's default), one chunk at a time. */
export const GCS_CHUNK_SIZE = 16 * 1024 * 1024;
/**
 * blobgate's GCS parts in flight (its `parallel-parts`): 1, the store's
 * default, is one resumable upload, one chunk at a time, as rclone 1.60 and
 * the SDK pipe send; BENCH_GCS_PARALLEL_PARTS=4 measures a parallel
 * composite upload of GCS_CHUNK_SIZE parts.
 */
export const GCS_PARALLEL_PARTS = Number(process.env.BENCH_GCS_PARALLEL_PARTS ?? 1);

export interface Stores {
  s3Endpoint: string;
  gcsUrl: string;
  /** Local directory for the peers' files (the same disk as blobgate's local store). */
  localDir: string;
  /** Service-account key file (generated RSA key) the gateway reads through a `file:` reference. */
  serviceAccountFile: string;
  serviceAccount: GcsServiceAccountKey;
  serversPid: number;
  /** Starts a CPU profile of the servers' process (one at a time). */
  profileServers(): Promise<void>;
  /** Stops it and writes it to `file` (a .cpuprofile, for Chrome DevTools or `--cpu-prof` tooling). */
  saveServersProfile(file: string): Promise<void>;
  s3: S3Client;
  gcs: Storage;
  /** sha256 and size of an object (S3/GCS key, or a local file path). */
  readBack(store: StoreName, keyOrPath: string): Promise<{ sha256: string; size: number }>;
  remove(store: StoreName, keyOrPath: string): Promise<void>;
  /** Deletes every object under a prefix in S3/GCS (after the small-object test). */
  removePrefix(store: 's3' | 'gcs', prefix: string): Promise<number>;
  stop(): Promise<void>;
}

async function hashStream(stream: Readable | AsyncIterable<Uint8Array>): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    h.update(chunk);
    size += chunk.length;
  }
  return { sha256: h.digest('hex'), size };
}

/**
 * glibc settings for the servers' process: keep freed memory instead of
 * returning it to the kernel. The servers copy every request body into a
 * fresh Buffer (fastify's body parser, fauxqs's part store); by default
 * glibc hands memory back as those Buffers are freed (unmapping large
 * blocks, trimming the heap's top), so the next parts fault their pages in
 * again, and on a VM that reports freed pages to its host (as the bench
 * machine's kernel does) a re-touched page costs a host fault: 4 GiB of
 * 8 MiB `Buffer.concat` in a bare Node took 2.7 s of CPU, 1.1 s with these.
 * Harness only: the tools run with the environment they ship with.
 * BENCH_SERVERS_MALLOC=0 turns it off.
 */
const SERVERS_ALLOCATOR: Record<string, string> =
  process.env.BENCH_SERVERS_MALLOC === '0' ? {} : { MALLOC_MMAP_THRESHOLD_: String(32 * 1024 * 1024), MALLOC_TRIM_THRESHOLD_: String(4 * 1024 * 1024 * 1024) };

export async function startStores(workDir: string): Promise<Stores> {
  const servers: TsChild & { ready: Record<string, unknown> } = await startTsChild('./servers-child.ts', [BUCKET], cleanEnv(SERVERS_ALLOCATOR));
  const s3Endpoint = String(servers.ready.s3);
  const gcsUrl = String(servers.ready.gcs);
  const localDir = join(workDir, 'peers');
  await mkdir(localDir, { recursive: true });

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const serviceAccount: GcsServiceAccountKey = {
    type: 'service_account',
    project_id: 'bench',
    client_email: 'blobgate-bench@bench.iam.gserviceaccount.com',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
  const serviceAccountFile = join(workDir, 'sa.json');
  await writeFile(serviceAccountFile, JSON.stringify(serviceAccount), { mode: 0o600 });

  const s3 = buildS3Client({ region: S3_REGION, endpoint: s3Endpoint, forcePathStyle: true, credentials: { ...S3_CREDENTIALS } });
  const gcs = buildGcsStorage({ apiEndpoint: gcsUrl, projectId: 'bench', credentials: serviceAccount });
  const bucket = gcs.bucket(BUCKET);

  return {
    s3Endpoint,
    gcsUrl,
    localDir,
    serviceAccountFile,
    serviceAccount,
    serversPid: servers.pid,
    profileServers: async () => {
      await servers.call({ profile: 'start' });
    },
    saveServersProfile: async (file) => {
      await servers.call({ profile: 'stop', file });
    },
    s3,
    gcs,
    async readBack(store, key) {
      if (store === 'local') return hashStream(createReadStream(key, { highWaterMark: 1024 * 1024 }));
      if (store === 's3') {
        const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        return hashStream(out.Body as Readable);
      }
      return hashStream(bucket.file(key).createReadStream({ validation: false }));
    },
    async remove(store, key) {
      if (store === 'local') return rm(key, { force: true });
      if (store === 's3') return void (await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key })));
      await bucket.file(key).delete({ ignoreNotFound: true });
    },
    async removePrefix(store, prefix) {
      let removed = 0;
      if (store === 's3') {
        for (;;) {
          const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, MaxKeys: 1000 }));
          const keys = (page.Contents ?? []).map((c) => ({ Key: c.Key! }));
          if (keys.length === 0) return removed;
          await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys, Quiet: true } }));
          removed += keys.length;
        }
      }
      const [files] = await bucket.getFiles({ prefix });
      for (let i = 0; i < files.length; i += 32) {
        await Promise.all(files.slice(i, i + 32).map((f) => f.delete({ ignoreNotFound: true })));
      }
      return files.length;
    },
    async stop() {
      s3.destroy();
      await servers.stop();
    },
  };
}
