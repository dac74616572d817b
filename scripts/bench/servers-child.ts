/**
 * Child process (started by servers.ts): the S3 test server (fauxqs 1.9.2
 * with the test harness's repairs, support/servers/s3/fauxqs.ts — among them
 * the one rclone's CompleteMultipartUpload bodies need) and the project's GCS JSON-API test server
 * (support/servers/gcs/server.ts), both on 127.0.0.1 port 0, each with the
 * bucket `bench`. A process of their own, so that their memory (both keep
 * objects in memory) and CPU are never counted as blobgate's or the driver's.
 * Reports `{ready, s3, gcs}` over IPC; stops on `{stop: true}` or when the
 * parent goes away. With `--cpu-prof` the bench asks for one CPU profile of
 * this process per timed transfer (`{id, profile: 'start'}`, then
 * `{id, profile: 'stop', file}`, through node:inspector), so the servers'
 * CPU can be read per tool, not only summed.
 *
 * One repair for objects of 2 GiB and more (the 4 GiB runs of --full): both
 * servers hash a whole object with one `Hash.update(buffer)` (fauxqs: the MD5
 * ETag of a CopyObject; the GCS server: the MD5 at finalization), and
 * Node 20 refuses a buffer of 2^31 bytes or more there ("data is too long").
 * In this process only, `update` is given such a buffer in 1 GiB slices —
 * the same digest — so large objects can be stored at all.
 */
import crypto from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';
import { startGcsServer } from '../../support/servers/gcs/server.js';

const hashProto = (crypto as unknown as { Hash: { prototype: { update(data: unknown, encoding?: unknown): unknown } } }).Hash.prototype;
const update = hashProto.update;
hashProto.update = function (this: unknown, data: unknown, encoding?: unknown): unknown {
  if (!(data instanceof Uint8Array) || data.length < 2 ** 30) return update.call(this, data, encoding);
  for (let off = 0; off < data.length; off += 2 ** 30) update.call(this, data.subarray(off, off + 2 ** 30));
  return this;
};

const BUCKET = process.argv[2] ?? 'bench';

const s3 = await startS3Server();
s3.createBucket(BUCKET);
const gcs = await startGcsServer({ host: '127.0.0.1', port: 0 });
gcs.createBucket(BUCKET);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled([s3.stop(), gcs.stop()]);
  process.exit(0);
};
let inspector: Session | undefined;
async function profile(m: { profile: 'start' | 'stop'; file?: string }): Promise<void> {
  if (m.profile === 'start') {
    inspector ??= new Session();
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.start');
    return;
  }
  if (!inspector) throw new Error('no profile was started');
  const { profile: taken } = await inspector.post('Profiler.stop');
  inspector.disconnect();
  if (m.file) await writeFile(m.file, JSON.stringify(taken));
}

process.on('message', (m: unknown) => {
  const msg = m as { stop?: boolean; id?: number; profile?: 'start' | 'stop'; file?: string } | null;
  if (msg?.stop) void stop();
  else if (msg?.profile) {
    profile({ profile: msg.profile, ...(msg.file === undefined ? {} : { file: msg.file }) }).then(
      () => process.send?.({ id: msg.id }),
      (err: unknown) => process.send?.({ id: msg.id, error: String(err) }),
    );
  }
});
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
process.send?.({ ready: true, s3: s3.endpoint, gcs: gcs.url });
