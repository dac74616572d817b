/**
 * Child process (started by peers.ts): the "SDK ceiling" baselines. It pipes
 * the same upstream into the same SDK call blobgate's drivers make, with the
 * same client settings (the client builders in src/storage/s3 and src/storage/gcs) and part/chunk sizes, and
 * nothing else: no metering, no sha256, no staging copy, no HTTP API.
 *
 *   {op: 'transfer', store, url, key}  S3: lib-storage Upload (which sends one
 *     PutObject when the body fits one part); GCS: File.createWriteStream,
 *     one request up to one chunk, else a resumable session in chunks;
 *     local: fs.createWriteStream with `flush` (fsync before close), the
 *     call blobgate's local store makes (`key` is then a file path).
 *   {op: 'small', store, url, prefix, concurrency, seconds, dir}  fetch + put
 *     of a small body in a closed loop; answers the latencies (ms).
 *
 * Runs in its own process so that its peak RSS can be read like blobgate's.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Agent, request } from 'undici';
import { buildGcsStorage, parseServiceAccountKey } from '../../src/storage/gcs/client.js';
import { buildS3Client } from '../../src/storage/s3/client.js';

interface Settings {
  s3Endpoint: string;
  gcsUrl: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  partSize: number;
  queueSize: number;
  chunkSize: number;
  serviceAccountFile: string;
}

const settings = JSON.parse(process.argv[2] ?? '{}') as Settings;
const s3 = buildS3Client({
  region: settings.region,
  endpoint: settings.s3Endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
});
const gcs = buildGcsStorage({ apiEndpoint: settings.gcsUrl, projectId: 'bench', credentials: parseServiceAccountKey(readFileSync(settings.serviceAccountFile, 'utf8')) });
const bucket = gcs.bucket(settings.bucket);
const agent = new Agent({ connections: 64, headersTimeout: 0, bodyTimeout: 0 });

async function transfer(store: string, url: string, key: string): Promise<void> {
  const res = await request(url, { dispatcher: agent });
  if (res.statusCode !== 200) throw new Error(`upstream answered ${res.statusCode}`);
  const length = Number(res.headers['content-length']);
  if (store === 's3') {
    const upload = new Upload({
      client: s3,
      params: { Bucket: settings.bucket, Key: key, Body: res.body, ContentType: 'application/octet-stream' },
      partSize: settings.partSize,
      queueSize: settings.queueSize,
      leavePartsOnError: false,
    });
    await upload.done();
    return;
  }
  if (store === 'gcs') {
    const resumable = !(length <= settings.chunkSize);
    const ws = bucket.file(key).createWriteStream({
      resumable,
      ...(resumable ? { chunkSize: settings.chunkSize } : {}),
      validation: 'crc32c',
      metadata: { contentType: 'application/octet-stream' },
    });
    await pipeline(res.body, ws);
    return;
  }
  await mkdir(dirname(key), { recursive: true });
  await pipeline(res.body, createWriteStream(key, { flags: 'wx', flush: true }));
}

/** One fetch + put of a small body; throws when what was stored is not what was fetched. */
async function putSmall(store: string, url: string, key: string, dir: string): Promise<void> {
  const res = await request(url, { dispatcher: agent });
  const body = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) throw new Error(`upstream answered ${res.statusCode}`);
  const md5 = createHash('md5').update(body).digest();
  if (store === 's3') {
    const out = await s3.send(new PutObjectCommand({ Bucket: settings.bucket, Key: key, Body: body, ContentLength: body.length, ContentType: 'application/octet-stream' }));
    if (out.ETag !== `"${md5.toString('hex')}"`) throw new Error(`S3 ETag ${out.ETag} is not the md5 of the bytes`);
  } else if (store === 'gcs') {
    const file = bucket.file(key);
    await file.save(body, { resumable: false, validation: 'crc32c', metadata: { contentType: 'application/octet-stream' } });
    if (file.metadata.md5Hash !== md5.toString('base64')) throw new Error('GCS md5Hash is not the md5 of the bytes');
  } else {
    // The local "direct put": the bytes written and fsynced, as blobgate's local store does.
    await writeFile(join(dir, key.replaceAll('/', '_')), body, { flush: true });
  }
}

async function small(m: { store: string; url: string; prefix: string; concurrency: number; seconds: number; dir: string }): Promise<{ latencies: number[]; errors: string[]; seconds: number }> {
  if (m.store === 'local') await mkdir(m.dir, { recursive: true });
  const latencies: number[] = [];
  const errors: string[] = [];
  const started = performance.now();
  const end = started + m.seconds * 1000;
  let n = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await putSmall(m.store, m.url, `${m.prefix}${n++}.bin`, m.dir);
        latencies.push(performance.now() - t0);
      } catch (err) {
        if (errors.length < 20) errors.push(String((err as Error).message ?? err));
        else errors.push('…');
      }
    }
  };
  await Promise.all(Array.from({ length: m.concurrency }, loop));
  return { latencies, errors, seconds: (performance.now() - started) / 1000 };
}

process.on('message', (raw: unknown) => {
  const m = raw as { id: number; op?: string; stop?: boolean; store: string; url: string; key: string } & Parameters<typeof small>[0];
  if (m.stop) {
    s3.destroy();
    void agent.close().finally(() => process.exit(0));
    return;
  }
  const work = m.op === 'transfer' ? transfer(m.store, m.url, m.key).then(() => ({})) : small(m);
  work.then(
    (result) => process.send?.({ id: m.id, ...result }),
    (err: unknown) => process.send?.({ id: m.id, error: String((err as Error)?.stack ?? err) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
