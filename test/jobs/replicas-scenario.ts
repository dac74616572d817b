// Two gateway processes over one store (docs/jobs.md#one-writer-per-job): a job submitted on A is watched and
// cancelled from B; the same Idempotency-Key sent to both at once runs one transfer; A killed with -9
// mid-transfer is reported lost by B, and the key's retry on B runs once more — and nothing is left.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { startChildGateway, type ChildGateway } from '../faults/child-gateway.js';
import { patternSha256 } from '../helpers/bytes.js';
import { TOKEN_ALL } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';
import { startGatedUpstream } from '../faults/gated-upstream.js';
import { readEvents } from './job-support.js';

export interface ReplicaStore {
  /** Gateway config: stores and tiers on the one shared store. */
  config: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** Body size that makes the write a multi-part one at this store. */
  size: number;
  /** Keys of blobs under workspaces/ (records excluded). */
  blobs(): Promise<string[]>;
  /** Multipart uploads, sessions, staging objects: what an unfinished write leaves. */
  leftovers(): Promise<string[]>;
}

const JOBS = { 'heartbeat-seconds': 0.2, 'lost-after-seconds': 2 };

export function replicaScenario(t: Test, name: string, setup: () => Promise<ReplicaStore>): void {
  t.test(`${name}: two replicas share jobs and idempotency keys through the store`, async (t) => {
    const store = await setup();
    const dir = await mkdtemp(join(tmpdir(), 'bg-replicas-'));
    const up = await startGatedUpstream();
    // The grace must outlast the slowest live write: S3 writes upload at their final key, and the sweep aborts
    // any upload older than the grace (a 1 s grace aborted a live write on a loaded machine).
    const config = { ...store.config, jobs: JOBS, janitor: { 'grace-seconds': 15, 'sweep-interval-seconds': 1 } };
    const children: ChildGateway[] = [];
    t.teardown(async () => {
      for (const c of children) c.kill('SIGKILL');
      await up.stop();
      await rm(dir, { recursive: true, force: true });
    });
    const [a, b] = await Promise.all([startChildGateway(dir, config, store.env), startChildGateway(dir, config, store.env)]);
    children.push(a!, b!);
    const call = async (gw: ChildGateway, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(gw.url + path, {
        method,
        headers: { authorization: `Bearer ${TOKEN_ALL}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
    };
    const step = (id: string, hold = 256 * 1024) => ({
      'flow-slug': 'f',
      'step-id': 's',
      request: { url: `${up.url}/gated/${id}/${store.size}?hold=${hold}`, timeout: 120 },
      persist: { type: 'blob', tier: 'ephemeral', filename: `${id}.bin` },
    });
    const ASYNC = { prefer: 'respond-async' };

    await t.test('submitted on A, watched and cancelled from B: nothing is left', async (t) => {
      const blobsBefore = await store.blobs();
      const accepted = await call(a!, 'POST', '/v1/workspaces/ws-1/http', step('cancel', store.size / 2), ASYNC);
      t.equal(accepted.status, 202);
      const id = accepted.json.id;
      await up.held('cancel');
      const { events } = await readEvents(`${b!.url}/v1/workspaces/ws-1/jobs/${id}/events`, TOKEN_ALL, { stopWhen: (e) => e.event === 'progress' && e.data.bytes > 0 });
      t.ok(events.some((e) => e.data.bytes > 0), 'B streams the progress A writes');
      const cancelled = await call(b!, 'DELETE', `/v1/workspaces/ws-1/jobs/${id}`);
      t.equal(cancelled.status, 200, JSON.stringify(cancelled.json));
      t.equal(cancelled.json.state, 'cancelled');
      t.equal((await call(a!, 'GET', `/v1/workspaces/ws-1/jobs/${id}`)).json.state, 'cancelled', 'A reads the same');
      up.release('cancel');
      t.same(await store.leftovers(), [], 'no multipart upload, session or staging object');
      t.same(await store.blobs(), blobsBefore, 'no object');
    });

    await t.test('one Idempotency-Key sent to A and B at the same moment: one transfer', async (t) => {
      const headers = { ...ASYNC, 'idempotency-key': 'both-replicas' };
      const answers = await Promise.all([a!, b!, a!, b!].map((gw) => call(gw, 'POST', '/v1/workspaces/ws-1/http', step('race'), headers)));
      t.same(answers.map((r) => r.status), [202, 202, 202, 202]);
      t.equal(new Set(answers.map((r) => r.json.id)).size, 1, 'every answer names the same job');
      up.release('race');
      const id = answers[0]!.json.id;
      await until('the job ended', async () => !['queued', 'running'].includes((await call(b!, 'GET', `/v1/workspaces/ws-1/jobs/${id}`)).json.state), 60_000);
      const job = await call(a!, 'GET', `/v1/workspaces/ws-1/jobs/${id}`);
      t.equal(job.json.state, 'succeeded', JSON.stringify(job.json));
      t.equal(job.json.result['blob-ref'].sha256, patternSha256(store.size));
      t.equal(up.hits('race'), 1, 'exactly one upstream call');
    });

    await t.test('A killed mid-transfer: B reports lost, the key runs again once on B, nothing is left', async (t) => {
      const headers = { ...ASYNC, 'idempotency-key': 'survives-a-crash' };
      const accepted = await call(a!, 'POST', '/v1/workspaces/ws-1/http', step('crash', store.size / 2), headers);
      const id = accepted.json.id;
      await up.held('crash');
      await until('bytes moved on A', async () => (await call(b!, 'GET', `/v1/workspaces/ws-1/jobs/${id}`)).json.bytes > 0, 30_000);
      a!.kill('SIGKILL');
      await a!.exited;
      await until('B reports the job lost', async () => (await call(b!, 'GET', `/v1/workspaces/ws-1/jobs/${id}`)).json.state === 'lost', 30_000);
      const lost = await call(b!, 'GET', `/v1/workspaces/ws-1/jobs/${id}`);
      t.match(lost.json.error, { code: 'aborted', details: { reason: 'lost' } });
      up.release('crash');
      const retry = await call(b!, 'POST', '/v1/workspaces/ws-1/http', step('crash', store.size / 2), headers);
      t.equal(retry.status, 202);
      t.not(retry.json.id, id, 'a new attempt');
      await until('the retry ended', async () => (await call(b!, 'GET', `/v1/workspaces/ws-1/jobs/${retry.json.id}`)).json.state === 'succeeded', 60_000);
      t.equal(up.hits('crash'), 2, 'the crashed attempt and the retry');
      const again = await call(b!, 'POST', '/v1/workspaces/ws-1/http', step('crash', store.size / 2), headers);
      t.equal(again.json.id, retry.json.id, 'the key now holds the retry');
      t.equal(up.hits('crash'), 2);
      await until('the janitor removed what the crash left', async () => (await store.leftovers()).length === 0, 90_000);
      t.pass('nothing left behind');
      b!.kill('SIGTERM');
      t.equal(await b!.exited, 0);
    });
  });
}
