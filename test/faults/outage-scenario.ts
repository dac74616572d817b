// The store goes away in the middle of a large persist: the caller gets
// storage_error, the cleanup that fails during the outage is the janitor's,
// and once the store is back the janitor leaves nothing within its retry
// window (waited for on blobgate_cleanup_pending, never a fixed sleep).
import type { Test } from 'tap';
import type { JanitorEvent } from '../../src/storage/janitor.js';
import { startGateway } from '../helpers/gateway.js';
import { startGatedUpstream } from './gated-upstream.js';

export interface OutageEnv {
  /** The gateway's store config (named `bg`, both tiers). */
  store: Record<string, unknown>;
  /** Part or chunk size. */
  unit: number;
  /** True once the write is in progress at the store (an upload or session holds bytes), read from the server's own state. */
  writing(): boolean;
  /** Uploads, sessions, staging objects and objects under the store prefix; only called while the store is up. */
  leftovers(): Promise<string[]>;
  outage(): Promise<void>;
  restore(): Promise<void>;
  stop(): Promise<void>;
}

/** The value of one sample of a Prometheus text exposition, 0 when absent. */
export function sample(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.indexOf('}'));
    const have = inner.split(',');
    if (want.every((w) => have.includes(w))) return Number(line.slice(line.indexOf('}') + 1));
  }
  return 0;
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function outageScenario(t: Test, name: string, setup: () => Promise<OutageEnv>): void {
  t.test(`${name}: a store outage mid-write → storage_error, then the janitor leaves nothing`, async (t) => {
    const env = await setup();
    // retry-max-seconds 1: after the outage the janitor tries again within about a second.
    const gw = await startGateway({ stores: { bg: env.store }, tiers: { retained: { store: 'bg' }, ephemeral: { store: 'bg' } }, janitor: { 'retry-max-seconds': 1 } });
    const up = await startGatedUpstream();
    t.teardown(async () => {
      await env.restore();
      await gw.close();
      await up.stop();
      await env.stop();
    });
    const events: JanitorEvent[] = [];
    gw.stores.onCleanupEvent((e) => events.push(e));
    const metrics = async (): Promise<string> => (await gw.call('GET', '/metrics', undefined, { token: null })).json as string;

    const size = 4 * env.unit;
    const step = gw.step({ request: { url: `${up.url}/gated/o1/${size}?hold=${2 * env.unit + 100}`, timeout: 120 }, persist: { type: 'blob', tier: 'ephemeral' } });
    await up.held('o1');
    await until(() => env.writing(), 'the write to be in progress at the store', 20_000);
    await env.outage();
    up.release('o1');

    const res = await step;
    t.equal(res.status, 502, JSON.stringify(res.json));
    t.equal(res.json.error?.code, 'storage_error', 'the caller is told nothing was stored');
    t.ok(sample(await metrics(), 'blobgate_cleanup_pending', { store: 'bg' }) >= 1, 'the failed cleanup is pending, visible in /metrics');
    t.ok(env.writing(), 'the upload or session is still there while the store is down');
    // A long outage: the cleanup's first attempt (with the SDK's own retries) runs out while the store is down.
    await until(() => events.some((e) => e.type === 'cleanup-failed' && e.store === 'bg'), 'the cleanup attempt to fail during the outage', 60_000);
    t.pass('the failed cleanup was reported (one log line per failure)');
    t.ok(env.writing(), 'and what it should have removed is still there');

    await env.restore();
    const restoredAt = Date.now();
    await until(async () => sample(await metrics(), 'blobgate_cleanup_pending', { store: 'bg' }) === 0, 'cleanup_pending to reach 0', 60_000);
    const took = Date.now() - restoredAt;
    t.same(await env.leftovers(), [], 'no upload, session, staging object or object left');
    const text = await metrics();
    t.ok(sample(text, 'blobgate_cleanups_total', { store: 'bg', outcome: 'failed' }) >= 1, 'failed attempts counted');
    t.ok(sample(text, 'blobgate_cleanups_total', { store: 'bg', outcome: 'done' }) >= 1, 'the cleanup counted done');
    t.ok(events.some((e) => e.type === 'cleanup-recovered'), 'the recovery was reported');
    t.comment(`${name}: store back → zero leftovers in ${took} ms`);
    t.ok(took < 10_000, `within the janitor's retry window (${took} ms)`);
  });
}
