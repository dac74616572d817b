// kill -9 of the gateway in the middle of an overwrite: after a restart the
// sweep leaves nothing behind, nothing half-written is visible, and the key
// still shows the old object.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { patternSha256, sha256OfStream } from '../helpers/bytes.js';
import { TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';
import { startChildGateway } from './child-gateway.js';
import { startGatedUpstream } from './gated-upstream.js';

export interface CrashEnv {
  /** Gateway config: stores, tiers, janitor. */
  config: Record<string, unknown>;
  /** Part or chunk size. */
  unit: number;
  /** True once the second write is in progress at the store. */
  writing(dataDir: string): Promise<boolean>;
  /** Temp files, uploads, sessions, staging objects: what a crash leaves and the sweep must remove. */
  leftovers(dataDir: string): Promise<string[]>;
  /** Run while the gateway is dead: adds what a kill at another moment would have left (the local rename/commit boundary). */
  alsoLeft?(dataDir: string): Promise<void>;
  /** Environment of the gateway process (store credentials by reference). */
  env?: NodeJS.ProcessEnv;
}

async function until(cond: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function crashScenario(t: Test, name: string, setup: () => Promise<CrashEnv>): void {
  t.test(`${name}: kill -9 mid-write, restart: the sweep leaves nothing, the old object stays`, async (t) => {
    const env = await setup();
    const dir = await mkdtemp(join(tmpdir(), 'bg-crash-'));
    const dataDir = join(dir, 'data');
    const up = await startUpstream();
    const gated = await startGatedUpstream();
    t.teardown(async () => {
      await up.stop();
      await gated.stop();
      await rm(dir, { recursive: true, force: true });
    });
    const persist = { type: 'blob', slot: 'a', filename: 'x.bin' };
    const slots = { a: { root: 'r/crash' } };
    const step = (url: string) => ({ 'flow-slug': 'f', 'step-id': 's', request: { url, timeout: 120 }, slots, persist });

    const gw1 = await startChildGateway(dir, env.config, env.env);
    t.teardown(() => gw1.kill('SIGKILL')); // no child outlives a failed test
    const old = await gw1.call('POST', '/v1/workspaces/ws-1/http', step(`${up.url}/bytes/1000?seed=5`));
    t.equal(old.status, 200, JSON.stringify(old.json));
    const oldSha = patternSha256(1000, 5);
    t.equal(old.json['blob-ref'].sha256, oldSha);

    const size = 4 * env.unit;
    const overwrite = gw1.call('POST', '/v1/workspaces/ws-1/http', step(`${gated.url}/gated/c1/${size}?hold=${2 * env.unit + 100}`));
    overwrite.catch(() => undefined);
    await gated.held('c1');
    await until(() => env.writing(dataDir), 'the overwrite to be in progress at the store', 30_000);
    gw1.kill('SIGKILL');
    t.equal(await gw1.exited, null, 'killed by the signal');
    await env.alsoLeft?.(dataDir);
    const left = await env.leftovers(dataDir);
    t.ok(left.length > 0, `the crash left something to sweep: ${left.join(', ')}`);

    const gw2 = await startChildGateway(dir, env.config, env.env);
    t.teardown(() => gw2.kill('SIGKILL'));
    await until(async () => (await env.leftovers(dataDir)).length === 0, 'the sweep to remove every leftover', 30_000);
    t.pass('nothing left behind');
    const content = await fetch(`${gw2.url}/v1/resources/content?uri=${encodeURIComponent(old.json.uri)}`, { headers: { authorization: `Bearer ${TOKEN_ALL}` } });
    t.equal(content.status, 200);
    t.same(await sha256OfStream(content.body as unknown as AsyncIterable<Uint8Array>), { sha256: oldSha, size: 1000 }, 'the key still holds the old object');
    const desc = await gw2.call('GET', `/v1/resources?uri=${encodeURIComponent(old.json.uri)}`);
    t.same(desc.json['blob-ref'], old.json['blob-ref'], 'with its meta unchanged');
    const list = await gw2.call('GET', '/v1/workspaces/ws-1/resources?storage-root=r/crash');
    t.same(list.json.items.map((i: { uri: string }) => i.uri), [old.json.uri], 'nothing half-written is visible');
    t.match(gw2.output(), /store sweep removed crash leftovers/, 'the sweep said what it removed');
    gw2.kill('SIGTERM');
    t.equal(await gw2.exited, 0);
  });
}
