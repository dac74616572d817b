/**
 * Scenarios 1–3: single transfers upstream → store, per store and size,
 * blobgate and its peers in rotating rounds (blobgate, rclone, sdk; rclone,
 * sdk, blobgate; …). Each blobgate run also records blobgate's peak RSS (VmHWM
 * reset just before the transfer), which scenario 3 (memory against size)
 * is computed from. blobgate is restarted before each store's series, so a
 * store's peaks do not carry what the previous store's transfers left in
 * the heap.
 */
import { join } from 'node:path';
import { type Bracket, type Context, type ToolName, type Transfer, syncDisk, transfer, uniqueName } from './context.js';
import type { StoreName } from './servers.js';
import { mibPerS, sizeLabel } from './measure.js';

export interface TransferSample extends Transfer {
  store: StoreName;
  size: number;
  tool: ToolName;
  run: number;
  mibPerS: number;
}

export const TOOLS: Record<StoreName, ToolName[]> = {
  local: ['blobgate', 'tee-sync', 'dd-fsync', 'curl', 'rclone', 'sdk'],
  s3: ['blobgate', 'rclone', 'sdk'],
  gcs: ['blobgate', 'rclone', 'sdk'],
};

/** Sizes from which each series starts with an untimed warm-up transfer (see runThroughput). */
const SIZE_WARMUP_FROM = 64 * 1024 * 1024;

export interface ThroughputPlan {
  stores: StoreName[];
  sizes: Array<{ size: number; runs: number }>;
}

export async function runThroughput(ctx: Context, plan: ThroughputPlan): Promise<TransferSample[]> {
  const samples: TransferSample[] = [];
  for (const store of plan.stores) {
    const tools = TOOLS[store];
    await ctx.restartGateway(store);
    // Warm-up (not recorded): connections, JIT, the peers' binaries in the page cache.
    for (const tool of tools) {
      const w = await transfer(ctx, tool, store, 1024 * 1024, uniqueName(`warmup-${tool}`));
      if (!w.ok) ctx.log(`  warm-up ${tool} → ${store} failed: ${w.error}`);
    }
    for (const { size, runs } of plan.sizes) {
      if (size >= SIZE_WARMUP_FROM) {
        // A first transfer of a new size costs every process more (the GCS server's first 1 GiB in memory:
        // 10.3 s of its CPU against 5.5 for the next): one untimed transfer by a peer, so the series
        // measures the tools, not whoever touches the memory first.
        const w = await transfer(ctx, 'sdk', store, size, uniqueName(`warmup-${store}-sdk`));
        if (!w.ok) ctx.log(`  warm-up sdk ${sizeLabel(size)} → ${store} failed: ${w.error}`);
      }
      for (let run = 0; run < runs; run++) {
        // Rotate the order, so that no tool goes first in every round: the first transfer after the
        // previous size's (or run's) objects were deleted paid the servers' re-touch of freed memory
        // (S3 1 GiB, blobgate first: 12.3 s of the servers' CPU, 5.6 s one round later).
        const order = [...tools.slice(run % tools.length), ...tools.slice(0, run % tools.length)];
        for (const tool of order) {
          if (store === 'local') await syncDisk();
          const dir = store === 'local' ? undefined : ctx.serversProfileDir;
          const file = `servers.${store}.${sizeLabel(size).replace(' ', '')}.${tool}.${run + 1}.cpuprofile`;
          const bracket: Bracket | undefined = dir === undefined ? undefined : { start: () => ctx.stores.profileServers(), stop: () => ctx.stores.saveServersProfile(join(dir, file)) };
          const t = await transfer(ctx, tool, store, size, uniqueName(`${store}-${tool}`), bracket);
          const sample: TransferSample = { store, size, tool, run, ...t, mibPerS: t.ok ? mibPerS(size, t.seconds) : 0 };
          samples.push(sample);
          const rss = t.peakRss === undefined ? '' : `, peak RSS ${(t.peakRss / 1048576).toFixed(0)} MiB`;
          ctx.log(`  ${store} ${sizeLabel(size)} #${run + 1} ${tool}: ${t.ok ? `${t.seconds.toFixed(2)} s, ${sample.mibPerS.toFixed(1)} MiB/s${rss}` : `FAILED ${t.error}`}`);
        }
      }
    }
  }
  return samples;
}
