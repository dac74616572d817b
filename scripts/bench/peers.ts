/**
 * The peers blobgate is compared with:
 *   curl      `curl -o FILE URL` into the local peers directory (the raw
 *             baseline: it neither hashes nor fsyncs)
 *   tee-sync  the same work as blobgate's local write, with the usual tools:
 *             `curl URL | tee FILE | sha256sum`, then `sync FILE` (fsync)
 *   dd-fsync  the disk's limit: `dd if=/dev/zero of=FILE bs=1M conv=fsync` of
 *             the same size (no network, no hash; zeros, so only its size is
 *             checked)
 *   rclone    `rclone copyurl URL DEST` (Debian rclone 1.60) into a local
 *             directory, the S3 server or the GCS server, configured by
 *             environment variables only, AWS_CA_BUNDLE unset; S3 with the
 *             same part size, concurrency and single-part cutoff as blobgate;
 *             GCS with its fixed 16 MiB chunks, which blobgate is set to match
 *   sdk       the bare baseline (sdk-worker.ts, a child process): the same
 *             upstream client (undici) piped into the same SDK call blobgate
 *             makes; for the local store fs.createWriteStream with fsync
 * Each peer is timed from start to finish; CLI peers include their process
 * start, which is what using them costs.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cleanEnv, runCli, startTsChild, type TsChild } from './proc.js';
import { BUCKET, GCS_CHUNK_SIZE, S3_CREDENTIALS, S3_PART_SIZE, S3_QUEUE_SIZE, S3_REGION, type StoreName, type Stores } from './servers.js';
import { procMemory, resetPeak } from './measure.js';

export type PeerName = 'curl' | 'tee-sync' | 'dd-fsync' | 'rclone' | 'sdk';

/** Peers that only write into a local directory. */
const LOCAL_ONLY: PeerName[] = ['curl', 'tee-sync', 'dd-fsync'];

export interface PeerRun {
  ok: boolean;
  seconds: number;
  /** Peak RSS of the peer's process during the transfer, bytes. */
  peakRss?: number;
  /** Where the bytes landed: a local file path or an S3/GCS key. */
  target: string;
  /** The peer writes bytes of its own (dd: zeros), so only the size of `target` can be checked. */
  sizeOnly?: boolean;
  error?: string;
}

export interface Peers {
  available(peer: PeerName, store: StoreName): boolean;
  run(peer: PeerName, store: StoreName, url: string, name: string, size: number): Promise<PeerRun>;
  sdk: TsChild;
  rcloneVersion: string;
  curlVersion: string;
  stop(): Promise<void>;
}

function versionOf(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], env: cleanEnv() });
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', () => resolve('not installed'));
    c.on('close', () => resolve(out.split('\n')[0]?.trim() || 'unknown'));
  });
}

export async function startPeers(stores: Stores, workDir: string): Promise<Peers> {
  const rcloneConf = join(workDir, 'rclone.conf');
  await writeFile(rcloneConf, ''); // empty: every remote comes from the environment
  const rcloneEnv = cleanEnv({
    RCLONE_CONFIG: rcloneConf,
    RCLONE_CACHE_DIR: join(workDir, 'rclone-cache'),
    RCLONE_CONFIG_BENCHS3_TYPE: 's3',
    RCLONE_CONFIG_BENCHS3_PROVIDER: 'Other',
    RCLONE_CONFIG_BENCHS3_ENDPOINT: stores.s3Endpoint,
    RCLONE_CONFIG_BENCHS3_REGION: S3_REGION,
    RCLONE_CONFIG_BENCHS3_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
    RCLONE_CONFIG_BENCHS3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
    RCLONE_CONFIG_BENCHS3_FORCE_PATH_STYLE: 'true',
    RCLONE_CONFIG_BENCHS3_NO_CHECK_BUCKET: 'true',
    RCLONE_CONFIG_BENCHS3_CHUNK_SIZE: `${S3_PART_SIZE / 1048576}M`, // rclone reads a bare number as KiB
    RCLONE_CONFIG_BENCHS3_UPLOAD_CUTOFF: `${S3_PART_SIZE / 1048576}M`,
    RCLONE_CONFIG_BENCHS3_UPLOAD_CONCURRENCY: String(S3_QUEUE_SIZE),
    RCLONE_CONFIG_BENCHGCS_TYPE: 'google cloud storage',
    RCLONE_CONFIG_BENCHGCS_ANONYMOUS: 'true', // the test server needs no token; no token requests
    RCLONE_CONFIG_BENCHGCS_ENDPOINT: `${stores.gcsUrl}/storage/v1/`,
    RCLONE_CONFIG_BENCHGCS_BUCKET_POLICY_ONLY: 'true',
    RCLONE_CONFIG_BENCHGCS_NO_CHECK_BUCKET: 'true',
  });
  const curlEnv = cleanEnv();
  const sdk = await startTsChild('./sdk-worker.ts', [
    JSON.stringify({
      s3Endpoint: stores.s3Endpoint,
      gcsUrl: stores.gcsUrl,
      bucket: BUCKET,
      region: S3_REGION,
      ...S3_CREDENTIALS,
      partSize: S3_PART_SIZE,
      queueSize: S3_QUEUE_SIZE,
      chunkSize: GCS_CHUNK_SIZE,
      serviceAccountFile: stores.serviceAccountFile,
    }),
  ]);
  const [rcloneVersion, curlVersion] = await Promise.all([versionOf('rclone', ['version']), versionOf('curl', ['--version'])]);
  const rcloneFlags = ['--retries', '1', '--low-level-retries', '1', '-q'];

  return {
    sdk,
    rcloneVersion,
    curlVersion,
    available: (peer, store) => !LOCAL_ONLY.includes(peer) || store === 'local',
    async run(peer, store, url, name, size) {
      if (peer === 'sdk') {
        const key = store === 'local' ? join(stores.localDir, 'sdk', name) : `peers/sdk/${name}`;
        await resetPeak(sdk.pid);
        const started = process.hrtime.bigint();
        try {
          await sdk.call({ op: 'transfer', store, url, key });
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          return { ok: true, seconds, peakRss: (await procMemory(sdk.pid)).hwm, target: key };
        } catch (err) {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          return { ok: false, seconds, target: key, error: String((err as Error).message).slice(0, 500) };
        }
      }
      let target: string;
      let result;
      if (LOCAL_ONLY.includes(peer)) {
        target = join(stores.localDir, peer, name);
        await mkdir(dirname(target), { recursive: true });
      }
      if (peer === 'curl') {
        result = await runCli('curl', ['-sS', '--fail', '--noproxy', '*', '-o', target!, url], curlEnv);
      } else if (peer === 'tee-sync') {
        // pipefail: a failed curl fails the run. sha256sum prints the digest, which the read-back check repeats.
        const script = 'set -o pipefail; curl -sS --fail --noproxy "*" "$2" | tee "$1" | sha256sum > /dev/null && sync "$1"';
        result = await runCli('bash', ['-c', script, 'tee-sync', target!, url], curlEnv);
      } else if (peer === 'dd-fsync') {
        result = await runCli('dd', ['if=/dev/zero', `of=${target!}`, 'bs=1M', `count=${size}`, 'iflag=count_bytes', 'conv=fsync', 'status=none'], curlEnv);
      } else {
        const dest =
          store === 'local'
            ? (target = join(stores.localDir, 'rclone', name))
            : store === 's3'
              ? `benchs3:${BUCKET}/${(target = `peers/rclone/${name}`)}`
              : `benchgcs:${BUCKET}/${(target = `peers/rclone/${name}`)}`;
        result = await runCli('rclone', ['copyurl', url, dest, ...rcloneFlags], rcloneEnv);
      }
      return {
        ok: result.code === 0,
        seconds: result.seconds,
        ...(result.peakRss === undefined ? {} : { peakRss: result.peakRss }),
        target: target!,
        ...(peer === 'dd-fsync' ? { sizeOnly: true } : {}),
        ...(result.code === 0 ? {} : { error: `exit ${result.code}: ${result.stderr.slice(-500)}` }),
      };
    },
    stop: () => sdk.stop(),
  };
}
