/**
 * The small-object series alone (scenario 5 of `npm run bench`), repeated:
 * for profiling and for changes to the per-object cost, where the full
 * bench's one 10 s window per store is too noisy on a shared machine.
 * Run `npm run build` first.
 *
 *   node --import tsx scripts/bench/small-series.ts [--stores=local,s3,gcs] [--rounds=3] [--seconds=10] [--cpu-prof] [--out=DIR]
 *
 * Each round runs blobgate and then its direct-write peer (the SDK worker) on
 * each store, as the bench does (one warm-up second each, blobgate restarted
 * per store); the summary gives, per store, the median over the rounds of
 * req/s and p99 for both tools and of their ratio within each round.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Context } from './context.js';
import { startGateway } from './gateway.js';
import { median } from './measure.js';
import { startPeers } from './peers.js';
import { killAll } from './proc.js';
import { STORES, type StoreName, startStores } from './servers.js';
import { runSmall, type SmallResult } from './small.js';
import { expectedSha256, startUpstream } from './upstream.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
for (const a of args) {
  if (!/^--(cpu-prof|stores=.+|rounds=\d+|seconds=\d+|out=.+)$/.test(a)) {
    process.stderr.write(`small-series: unknown argument ${a}\n`);
    process.exit(2);
  }
}
const stores = (option('stores')?.split(',') ?? ['local']).filter((s): s is StoreName => (STORES as string[]).includes(s));
const rounds = Number(option('rounds') ?? 3);
const seconds = Number(option('seconds') ?? 10);
const outDir = resolve(option('out') ?? 'bench/tmp/small-series');
const nodeArgs = args.includes('--cpu-prof') ? ['--cpu-prof', `--cpu-prof-dir=${join(outDir, 'profiles')}`] : [];
const SIZE = 1024;
const CONCURRENCY = 16;

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const workDir = resolve('bench/tmp', `small-${process.pid}`);

async function main(): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await mkdir(workDir, { recursive: true });
  expectedSha256(SIZE);
  const upstream = await startUpstream();
  const st = await startStores(workDir);
  const peers = await startPeers(st, workDir);
  const ctx: Context = {
    upstream,
    stores: st,
    gateway: await startGateway(st, workDir, stores[0] ?? 'local', nodeArgs),
    peers,
    log,
    async restartGateway(store) {
      await ctx.gateway.stop();
      ctx.gateway = await startGateway(st, workDir, store, nodeArgs);
    },
  };
  const all: SmallResult[][] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      log(`round ${round}/${rounds}`);
      all.push(await runSmall(ctx, stores, SIZE, CONCURRENCY, seconds));
    }
  } finally {
    await ctx.gateway.stop();
    await peers.stop();
    await st.stop();
    await upstream.stop();
    killAll();
    await rm(workDir, { recursive: true, force: true });
  }
  log(`1 KiB at concurrency ${CONCURRENCY}, ${rounds} × ${seconds} s, medians:`);
  for (const store of stores) {
    const pick = (tool: SmallResult['tool']): SmallResult[] => all.map((r) => r.find((x) => x.store === store && x.tool === tool)!);
    const gw = pick('blobgate');
    const sdk = pick('sdk');
    const ratio = median(gw.map((g, i) => g.perSecond / sdk[i]!.perSecond));
    log(
      `  ${store}: blobgate ${median(gw.map((r) => r.perSecond)).toFixed(0)} req/s (p99 ${median(gw.map((r) => r.p99Ms)).toFixed(1)} ms), ` +
        `direct ${median(sdk.map((r) => r.perSecond)).toFixed(0)} req/s (p99 ${median(sdk.map((r) => r.p99Ms)).toFixed(1)} ms), ratio ${ratio.toFixed(2)}; ` +
        `errors ${gw.reduce((n, r) => n + r.errors, 0)}`,
    );
  }
  await writeFile(join(outDir, 'small-series.json'), JSON.stringify(all, null, 2));
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    log(`small-series failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    killAll();
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    process.exit(1);
  },
);
