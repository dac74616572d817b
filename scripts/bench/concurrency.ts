/**
 * Scenario 4: N simultaneous persists of one size into each store through
 * blobgate. All must succeed (status, blob-ref sha256, and the bytes read
 * back from the store); reported with the aggregate throughput and
 * blobgate's peak RSS over the whole batch. blobgate is restarted (and warmed
 * up by one small persist) before each store's batch, so a batch's peak does
 * not include what the previous store's batch left in the heap.
 */
import { type Context, checkPersist, uniqueName } from './context.js';
import type { StoreName } from './servers.js';
import { expectedSha256 } from './upstream.js';
import { measured, mibPerS, sizeLabel } from './measure.js';

export interface ConcurrencyResult {
  store: StoreName;
  transfers: number;
  size: number;
  succeeded: number;
  failures: string[];
  seconds: number;
  aggregateMiBPerS: number;
  startRss: number;
  peakRss: number;
}

export async function runConcurrency(ctx: Context, stores: StoreName[], transfers: number, size: number): Promise<ConcurrencyResult[]> {
  const out: ConcurrencyResult[] = [];
  for (const store of stores) {
    await ctx.restartGateway(store);
    const warm = await ctx.gateway.persist(store, ctx.upstream.bytesUrl(1024 * 1024, 'warmup.bin'), 'c/warmup', 'warmup.bin');
    if (warm.uri) await ctx.gateway.remove(warm.uri);
    const names = Array.from({ length: transfers }, () => uniqueName(`conc-${store}`));
    const m = await measured(ctx.gateway.pid, () =>
      Promise.all(names.map((name) => ctx.gateway.persist(store, ctx.upstream.bytesUrl(size, name), `c/${name.replace(/\.bin$/, '')}`, name).catch((err: unknown) => ({ status: 0, error: String(err) }) as const))),
    );
    const failures: string[] = [];
    for (const r of m.value) {
      let problem = checkPersist(r, size);
      if (!problem && 'blobRef' in r && r.blobRef) {
        const blobRef = r.blobRef;
        const got = await ctx.gateway
          .physical(store, blobRef)
          .then((where) => ctx.stores.readBack(store, where))
          .catch((err: unknown) => ({ size: -1, sha256: '', error: String(err) }));
        if ('error' in got) problem = `read back failed: ${got.error}`;
        else if (got.size !== size || got.sha256 !== expectedSha256(size)) problem = `read back ${got.size} bytes that are not the upstream's`;
      }
      if (problem) failures.push(problem);
      if ('uri' in r && r.uri) await ctx.gateway.remove(r.uri).catch(() => undefined);
    }
    const result: ConcurrencyResult = {
      store,
      transfers,
      size,
      succeeded: transfers - failures.length,
      failures,
      seconds: m.seconds,
      aggregateMiBPerS: mibPerS(size * (transfers - failures.length), m.seconds),
      startRss: m.before!.rss,
      peakRss: m.after!.hwm,
    };
    out.push(result);
    ctx.log(
      `  ${store}: ${transfers} × ${sizeLabel(size)}: ${result.succeeded}/${transfers} ok in ${m.seconds.toFixed(1)} s, ` +
        `${result.aggregateMiBPerS.toFixed(1)} MiB/s aggregate, peak RSS ${(result.peakRss / 1048576).toFixed(0)} MiB` +
        (failures.length ? `; first failure: ${failures[0]}` : ''),
    );
  }
  return out;
}
