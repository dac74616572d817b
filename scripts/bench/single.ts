/**
 * blobgate alone, one store, one size, a few persists in a row: peak RSS and
 * CPU per transfer, for an A/B of a runtime setting where the full bench's
 * peers and rounds only add noise. Run `npm run build` first.
 *
 *   node --import tsx scripts/bench/single.ts [--store=s3] [--size=1073741824] [--runs=3] [--idle=SECONDS]
 *
 * The gateway runs as in the bench (gateway.ts: the flags `npm start` gives
 * it, then BENCH_GATEWAY_NODE_ARGS, so
 * `BENCH_GATEWAY_NODE_ARGS=--max-semi-space-size=16` measures V8's default
 * young generation; BENCH_BLOBGATE_ENTRY another build).
 * After one untimed 1 MiB persist, each run is the bench's verified blobgate
 * transfer (sha256 of the answer and of the bytes read back, peak RSS reset
 * before it). One line per run: seconds, peak and starting RSS, CPU seconds
 * of the gateway (and of its main thread) and of the test servers.
 * `--idle`: the gateway idles that long before each run, as it does in the
 * bench's series while the peers run (long enough, the buffer budget drops
 * its kept buffers, and the next run allocates them again).
 */
import { mkdir, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { blobgateTransfer } from './context.js';
import { BENCH_S3_CHECKSUM_MODE, gatewayEnvWords, gatewayNodeFlags, startGateway } from './gateway.js';
import { MiB, sizeLabel, sleep } from './measure.js';
import { killAll } from './proc.js';
import { STORES, type StoreName, startStores } from './servers.js';
import { startUpstream } from './upstream.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
for (const a of args) {
  if (!/^--(store=(local|s3|gcs)|size=\d+|runs=\d+|idle=\d+)$/.test(a)) {
    process.stderr.write(`single: unknown argument ${a}\nusage: node --import tsx scripts/bench/single.ts [--store=${STORES.join('|')}] [--size=BYTES] [--runs=N] [--idle=SECONDS]\n`);
    process.exit(2);
  }
}
const store = (option('store') ?? 's3') as StoreName;
const size = Number(option('size') ?? 1024 * MiB);
const runs = Number(option('runs') ?? 3);
const idleSeconds = Number(option('idle') ?? 0);
const workDir = resolve('bench/tmp', `single-${process.pid}`);
const log = (line: string): void => void process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  await mkdir(workDir, { recursive: true });
  const upstream = await startUpstream();
  const st = await startStores(workDir);
  const gateway = await startGateway(st, workDir, store);
  const ctx = { upstream, stores: st, gateway };
  let failed = false;
  try {
    const warm = await blobgateTransfer(ctx, store, MiB, 'single-warmup.bin');
    if (!warm.ok) throw new Error(`warm-up failed: ${warm.error}`);
    log(`blobgate → ${store}, ${sizeLabel(size)} × ${runs}${idleSeconds > 0 ? `, ${idleSeconds} s idle before each` : ''}, node flags: ${gatewayNodeFlags().join(' ')}, ${gatewayEnvWords().join(' ')}${BENCH_S3_CHECKSUM_MODE === undefined ? '' : `, S3 checksum-mode ${BENCH_S3_CHECKSUM_MODE}`}`);
    for (let run = 1; run <= runs; run++) {
      if (idleSeconds > 0) await sleep(idleSeconds * 1000);
      const t = await blobgateTransfer(ctx, store, size, `single-${run}.bin`);
      if (!t.ok) failed = true;
      const mb = (b: number | undefined): string => (b === undefined ? '?' : (b / MiB).toFixed(1));
      log(
        `  run ${run}: ${t.ok ? 'ok' : `FAILED (${t.error})`} ${t.seconds.toFixed(2)} s, peak RSS ${mb(t.peakRss)} MiB (start ${mb(t.startRss)}), ` +
          `CPU gateway ${t.cpu?.tool.toFixed(2) ?? '?'} s (main thread ${t.cpu?.toolMain?.toFixed(2) ?? '?'}), servers ${t.cpu?.servers.toFixed(2) ?? '?'} s`,
      );
    }
  } finally {
    await gateway.stop();
    await st.stop();
    await upstream.stop();
    killAll();
    await rm(workDir, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`single: ${err instanceof Error ? err.message : String(err)}\n`);
  killAll();
  process.exit(1);
});
