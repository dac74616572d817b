/**
 * Scenario 5: small objects. For a fixed time, a closed loop of `concurrency`
 * workers persists a small upstream body (1 KiB) into each store — through
 * blobgate (the driver sends the steps), and as the bare minimum that gets
 * the same bytes into the same store (the SDK worker fetches the body and
 * puts it with the store's SDK; for the local store, writes and fsyncs the
 * file). Every blobgate answer's sha256 is checked; every direct put is
 * checked against the store's md5 (S3 ETag, GCS md5Hash). Objects are
 * deleted after the timed window. blobgate is restarted before each store
 * (so its peak RSS is not what the concurrency test left in its heap), and
 * each tool runs an untimed 1 s warm-up first.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Context, checkPersist } from './context.js';
import { WORKSPACE } from './gateway.js';
import type { StoreName } from './servers.js';
import { percentile, procMemory, resetPeak } from './measure.js';

export interface SmallResult {
  store: StoreName;
  tool: 'blobgate' | 'sdk';
  size: number;
  concurrency: number;
  seconds: number;
  requests: number;
  errors: number;
  firstError?: string;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  peakRss: number;
}

/** URIs blobgate answered in the local store, deleted through its API (the store's layout is blobgate's business). */
const localUris: string[] = [];

async function blobgateLoop(ctx: Context, store: StoreName, size: number, concurrency: number, seconds: number): Promise<{ latencies: number[]; errors: string[]; seconds: number }> {
  const latencies: number[] = [];
  const errors: string[] = [];
  const started = performance.now();
  const end = started + seconds * 1000;
  let n = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const i = n++;
      const t0 = performance.now();
      try {
        const r = await ctx.gateway.persist(store, ctx.upstream.bytesUrl(size, `s${i}.bin`), 'small', `s${i}.bin`);
        const problem = checkPersist(r, size);
        if (store === 'local' && r.uri) localUris.push(r.uri);
        if (problem) errors.push(problem);
        else latencies.push(performance.now() - t0);
      } catch (err) {
        errors.push(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { latencies, errors, seconds: (performance.now() - started) / 1000 };
}

async function cleanup(ctx: Context, store: StoreName, tool: 'blobgate' | 'sdk'): Promise<void> {
  if (store === 'local') {
    if (tool === 'sdk') return rm(join(ctx.stores.localDir, 'sdk-small'), { recursive: true, force: true });
    const uris = localUris.splice(0);
    const next = async (): Promise<void> => {
      for (let uri = uris.pop(); uri !== undefined; uri = uris.pop()) await ctx.gateway.remove(uri);
    };
    await Promise.all(Array.from({ length: 16 }, next));
    return;
  }
  await ctx.stores.removePrefix(store, tool === 'sdk' ? 'peers/sdk-small/' : `workspaces/${WORKSPACE}/storage/bench/small/`);
}

export async function runSmall(ctx: Context, stores: StoreName[], size: number, concurrency: number, seconds: number): Promise<SmallResult[]> {
  const out: SmallResult[] = [];
  for (const store of stores) {
    await ctx.restartGateway(store);
    for (const tool of ['blobgate', 'sdk'] as const) {
      const pid = tool === 'blobgate' ? ctx.gateway.pid : ctx.peers.sdk.pid;
      const loop = (secs: number): Promise<{ latencies: number[]; errors: string[]; seconds: number }> =>
        tool === 'blobgate'
          ? blobgateLoop(ctx, store, size, concurrency, secs)
          : ctx.peers.sdk.call({
              op: 'small',
              store,
              url: ctx.upstream.bytesUrl(size, 'small.bin'),
              prefix: 'peers/sdk-small/',
              concurrency,
              seconds: secs,
              dir: join(ctx.stores.localDir, 'sdk-small'),
            });
      await loop(1);
      await cleanup(ctx, store, tool);
      await resetPeak(pid);
      const r = await loop(seconds);
      const peakRss = (await procMemory(pid)).hwm;
      await cleanup(ctx, store, tool);
      const result: SmallResult = {
        store,
        tool,
        size,
        concurrency,
        seconds: r.seconds,
        requests: r.latencies.length,
        errors: r.errors.length,
        ...(r.errors[0] ? { firstError: r.errors[0] } : {}),
        perSecond: r.latencies.length / r.seconds,
        p50Ms: percentile(r.latencies, 50),
        p99Ms: percentile(r.latencies, 99),
        peakRss,
      };
      out.push(result);
      ctx.log(
        `  ${store} ${tool}: ${result.perSecond.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms` +
          (result.errors ? `, ${result.errors} errors (${result.firstError})` : ''),
      );
    }
  }
  return out;
}
