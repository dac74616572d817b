/**
 * `npm run bench` — blobgate against its peers, end to end on 127.0.0.1 (not
 * part of `npm test`). Run `npm run build` first (the npm script does).
 *
 *   node --import tsx scripts/bench/index.ts [--quick | --full] [--stores=local,s3,gcs] [--out=DIR] [--cpu-prof]
 *
 * Starts a deterministic upstream (in this process), the S3 and GCS test
 * servers (one child process), the built gateway (another) and the SDK
 * worker (another), then measures, per store:
 *   1–2. throughput upstream → store at 1 MiB, 64 MiB, 1 GiB (+ 4 GiB with
 *        --full): blobgate vs curl -o, curl | tee | sha256sum + sync and
 *        dd conv=fsync (local) / rclone copyurl / the bare SDK, in
 *        rotating rounds, median and min–max;
 *   3.   blobgate's peak RSS per transfer and its slope against size;
 *   4.   32 simultaneous 64 MiB persists: all succeed, aggregate, peak RSS;
 *   5.   1 KiB persists at concurrency 16 for 10 s vs a direct SDK put.
 * Every transfer is verified by sha256. Writes DIR/results.md and
 * DIR/results.json (DIR: bench/, or bench/quick/ with --quick).
 *
 *   --quick  smoke check of the script: 1 MiB + 64 MiB once each, 8 × 16 MiB
 *            concurrent, 2 s of small objects.
 *   --full   adds three rotating 4 GiB rounds per store (needs ~10 GiB free RAM
 *            for the in-memory servers and 15–20 more minutes).
 *   --only=throughput,concurrency,small  runs only those scenarios (default: all).
 *   --cpu-prof  runs blobgate with `node --cpu-prof`, one profile per
 *            gateway process (one per store's series) in DIR/profiles/, and
 *            profiles the S3/GCS test servers' process during each timed
 *            transfer (DIR/profiles/servers.STORE.SIZE.TOOL.RUN.cpuprofile).
 */
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { analyse } from './analysis.js';
import { runConcurrency, type ConcurrencyResult } from './concurrency.js';
import type { Context } from './context.js';
import { BENCH_S3_CHECKSUM_MODE, gatewayEnvWords, gatewayNodeFlags, startGateway } from './gateway.js';
import { GiB, MiB, sizeLabel } from './measure.js';
import { startPeers } from './peers.js';
import { killAll } from './proc.js';
import { writeResults, type Environment } from './report.js';
import { GCS_CHUNK_SIZE, GCS_PARALLEL_PARTS, S3_PART_SIZE, S3_QUEUE_SIZE, STORES, type StoreName, startStores } from './servers.js';
import { runSmall, type SmallResult } from './small.js';
import { runThroughput, type TransferSample } from './throughput.js';
import { expectedSha256, startUpstream } from './upstream.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(`--${name}`);
const option = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
for (const a of args) {
  if (!/^--(quick|full|cpu-prof|stores=.+|only=.+|out=.+)$/.test(a)) {
    process.stderr.write(`bench: unknown argument ${a}\nusage: node --import tsx scripts/bench/index.ts [--quick | --full] [--stores=local,s3,gcs] [--only=throughput,concurrency,small] [--out=DIR] [--cpu-prof]\n`);
    process.exit(2);
  }
}
const quick = flag('quick');
const cpuProf = flag('cpu-prof');
const full = flag('full') && !quick;
const stores = (option('stores')?.split(',') ?? STORES).filter((s): s is StoreName => (STORES as string[]).includes(s));
const SCENARIOS = ['throughput', 'concurrency', 'small'] as const;
const only = new Set(option('only')?.split(',') ?? SCENARIOS);
for (const s of only) {
  if (!(SCENARIOS as readonly string[]).includes(s)) {
    process.stderr.write(`bench: --only takes ${SCENARIOS.join(', ')}; not ${s}\n`);
    process.exit(2);
  }
}
const outDir = resolve(option('out') ?? (quick ? 'bench/quick' : 'bench'));

// Three rounds at 4 GiB, as at the smaller sizes: with one, the rotation put blobgate first in every
// --full run, and one slow first transfer (run D: S3 38.4 s against 20.6–33.7 s alone) was the cell.
const FULL_4GIB_RUNS = 3;

const plan = {
  sizes: quick
    ? [{ size: MiB, runs: 1 }, { size: 64 * MiB, runs: 1 }]
    : [{ size: MiB, runs: 3 }, { size: 64 * MiB, runs: 3 }, { size: GiB, runs: 3 }, ...(full ? [{ size: 4 * GiB, runs: FULL_4GIB_RUNS }] : [])],
  concurrency: quick ? { transfers: 8, size: 16 * MiB } : { transfers: 32, size: 64 * MiB },
  small: { size: 1024, concurrency: 16, seconds: quick ? 2 : 10 },
};

/** HEAD and whether src/ differs from it: which blobgate the numbers belong to. */
function gitDescribe(): string {
  const git = (...a: string[]): string => spawnSync('git', a, { encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown';
  return git('status', '--porcelain', '--', 'src') ? `${head} (src/ modified)` : head;
}

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const began = Date.now();
// Read when the run starts, when the gateway is built and started: a tree that moves on during a long run must not relabel it.
const measuredCommit = `${gitDescribe()}${process.env.BENCH_BLOBGATE_ENTRY ? ` (gateway: BENCH_BLOBGATE_ENTRY=${process.env.BENCH_BLOBGATE_ENTRY})` : ''}`;
const workDir = resolve('bench/tmp', `run-${process.pid}`);
let cleanup: Array<() => Promise<void>> = [];
const stopAll = async (): Promise<void> => {
  for (const fn of cleanup.reverse()) await fn().catch((err: unknown) => log(`cleanup: ${String(err)}`));
  cleanup = [];
  killAll();
  await rm(workDir, { recursive: true, force: true });
};
process.once('SIGINT', () => {
  log('interrupted: stopping the servers and the gateway');
  void stopAll().finally(() => process.exit(130));
});

async function main(): Promise<void> {
  await mkdir(workDir, { recursive: true });
  if (cpuProf) await mkdir(join(outDir, 'profiles'), { recursive: true });
  log(`bench (${quick ? 'quick' : full ? 'full' : 'default'}): stores ${stores.join(', ')}; sizes ${plan.sizes.map((s) => `${sizeLabel(s.size)}×${s.runs}`).join(', ')}`);
  for (const { size } of [...plan.sizes, { size: plan.concurrency.size }, { size: MiB }, { size: plan.small.size }]) expectedSha256(size);

  const upstream = await startUpstream();
  cleanup.push(() => upstream.stop());
  const st = await startStores(workDir);
  cleanup.push(() => st.stop());
  const nodeArgs = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(outDir, 'profiles')}`] : [];
  const gateway = await startGateway(st, workDir, stores[0] ?? 'local', nodeArgs);
  const peers = await startPeers(st, workDir);
  cleanup.push(() => peers.stop());
  const ctx: Context = {
    ...(cpuProf ? { serversProfileDir: join(outDir, 'profiles') } : {}),
    upstream,
    stores: st,
    gateway,
    peers,
    log,
    async restartGateway(store) {
      await ctx.gateway.stop();
      ctx.gateway = await startGateway(st, workDir, store, nodeArgs);
      log(`blobgate restarted: pid ${ctx.gateway.pid}${cpuProf ? ` (profile: ${join(outDir, 'profiles')}/CPU.*.${ctx.gateway.pid}.*.cpuprofile)` : ''}`);
    },
  };
  cleanup.push(() => ctx.gateway.stop());
  log(`upstream ${upstream.url}, S3 ${st.s3Endpoint}, GCS ${st.gcsUrl}, blobgate ${gateway.url} (pid ${gateway.pid}), servers pid ${st.serversPid}, sdk worker pid ${peers.sdk.pid}`);

  log('1–3. throughput and memory');
  const samples: TransferSample[] = only.has('throughput') ? await runThroughput(ctx, { stores, sizes: plan.sizes }) : [];
  log(`4. concurrency: ${plan.concurrency.transfers} × ${sizeLabel(plan.concurrency.size)}`);
  const concurrency: ConcurrencyResult[] = only.has('concurrency') ? await runConcurrency(ctx, stores, plan.concurrency.transfers, plan.concurrency.size) : [];
  log(`5. small objects: ${sizeLabel(plan.small.size)} at concurrency ${plan.small.concurrency} for ${plan.small.seconds} s`);
  const small: SmallResult[] = only.has('small') ? await runSmall(ctx, stores, plan.small.size, plan.small.concurrency, plan.small.seconds) : [];

  const environment: Environment = {
    date: new Date().toISOString(),
    commit: measuredCommit,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / GiB),
    node: process.version,
    rclone: peers.rcloneVersion,
    curl: peers.curlVersion.split(' ').slice(0, 2).join(' '),
    mode: quick ? '--quick' : full ? '--full' : 'default run',
    command: `node --import tsx scripts/bench/index.ts${args.length ? ` ${args.join(' ')}` : ''}`,
    settings: {
      'runs per size': plan.sizes.map((s) => `${sizeLabel(s.size)}: ${s.runs}`).join(', ') + ' (per tool, in rotating order)',
      'S3 (blobgate, rclone, sdk)': `${S3_PART_SIZE / MiB} MiB parts, ${S3_QUEUE_SIZE} in parallel, one PutObject up to one part (rclone: --s3-chunk-size/--s3-upload-cutoff ${S3_PART_SIZE / MiB}M, --s3-upload-concurrency ${S3_QUEUE_SIZE}); fauxqs 1.9.2 in memory${BENCH_S3_CHECKSUM_MODE === undefined ? '' : `; blobgate's checksum-mode: ${BENCH_S3_CHECKSUM_MODE} (BENCH_S3_CHECKSUM_MODE; the sdk peer keeps the SDK's default)`}`,
      'GCS (blobgate, rclone, sdk)': `${GCS_CHUNK_SIZE / MiB} MiB chunks (rclone 1.60's fixed chunk size; blobgate's default is 8 MiB); one request up to one chunk; rclone and sdk: one resumable upload, one chunk at a time; blobgate: ${GCS_PARALLEL_PARTS > 1 ? `a parallel composite upload, ${GCS_PARALLEL_PARTS} parts of one chunk in flight, published by a compose` : 'one resumable upload (parallel-parts 1), published by a rewrite'}; the project's GCS test server, in memory`,
      local: 'blobgate writes a temp file, fsyncs it and renames it (durable); sdk = undici piped into fs.createWriteStream with fsync (the same call, nothing else); curl -o and rclone do not fsync; tee-sync = `curl URL | tee FILE | sha256sum` then `sync FILE` (the same work with the usual tools); dd-fsync = `dd if=/dev/zero of=FILE bs=1M conv=fsync` of the same size (the disk\'s limit: no network, no hash). `sync` runs before each local transfer, untimed.',
      'blobgate process': 'restarted before each store\'s series, configured with that store beside local (as a deployment on that store would be: only a configured store\'s SDK is loaded), one warm-up transfer per tool first; its peak RSS is VmHWM, reset before each transfer; node flags: ' + gatewayNodeFlags().join(' ') + '; environment: ' + gatewayEnvWords().join(' '),
      'timing': 'blobgate: the HTTP step request until its answer; curl, tee-sync, dd-fsync, rclone: process start to exit; sdk: the IPC request to the worker until its answer',
      'test-server repairs (support/servers/s3/fauxqs.ts, scripts/bench/servers-child.ts)':
        'fauxqs gets CompleteMultipartUpload bodies in one canonical element order with entities decoded (Go clients: without it rclone\'s multipart uploads failed or silently lost parts); ' +
        'in the servers\' process, Hash.update hashes buffers of ≥ 1 GiB in slices (Node 20 refuses ≥ 2 GiB in one call, so ≥ 2 GiB objects could not be stored)',
      'concurrency': `${plan.concurrency.transfers} × ${sizeLabel(plan.concurrency.size)}, all started at once (limits.transfers 64)`,
    },
  };
  const analysis = analyse(samples, concurrency, small);
  environment.durationSeconds = (Date.now() - began) / 1000;
  const written = await writeResults(outDir, { environment, samples, concurrency, small, analysis });
  log(`wrote ${written.md} and ${written.json}`);
  const missed = analysis.targets.filter((t) => t.status === 'missed');
  for (const t of analysis.targets) log(`  ${t.status.padEnd(12)} ${t.target}: ${t.measured}`);
  if (missed.length) log(`${missed.length} target(s) missed`);
}

main()
  .then(async () => {
    await stopAll();
    process.exit(0);
  })
  .catch(async (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await stopAll();
    process.exit(1);
  });
