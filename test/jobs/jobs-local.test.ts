// Transfer jobs and idempotency keys on the local store, in one gateway (docs/jobs.md):
// async submit, events, cancel, list, isolation, and idempotent repeats.
import t from 'tap';
import { patternSha256 } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL, TOKEN_WS1, type Gateway } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';
import { startGatedUpstream, type GatedUpstream } from '../faults/gated-upstream.js';
import { readEvents } from './job-support.js';

const SIZE = 3 * 1024 * 1024;
let gw: Gateway;
let up: GatedUpstream;

t.before(async () => {
  up = await startGatedUpstream();
  gw = await startGateway({ jobs: { 'heartbeat-seconds': 0.1, 'lost-after-seconds': 3 } });
});
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const stepBody = (id: string, extra: Record<string, unknown> = {}) => ({
  'flow-slug': 'flow',
  'step-id': 'step',
  request: { url: `${up.url}/gated/${id}/${SIZE}?hold=${256 * 1024}` },
  persist: { type: 'blob', tier: 'ephemeral', filename: `${id}.bin` },
  ...extra,
});
const submit = (body: unknown, headers: Record<string, string> = {}, ws = 'ws-1') => gw.call('POST', `/v1/workspaces/${ws}/http`, body, { headers: { prefer: 'respond-async', ...headers } });

t.test('async step: 202 with Location, progress events, then the result the sync call would give', async (t) => {
  const accepted = await submit(stepBody('happy'));
  t.equal(accepted.status, 202);
  t.equal(accepted.headers.get('preference-applied'), 'respond-async');
  const id = accepted.json.id as string;
  t.match(id, /^job_[A-Za-z0-9_-]{24}$/);
  t.equal(accepted.headers.get('location'), `/v1/workspaces/ws-1/jobs/${id}`);
  t.match(accepted.json, { state: 'queued', bytes: 0, attempts: 0 });
  t.notOk('owner' in accepted.json || 'heartbeat-at' in accepted.json || 'seq' in accepted.json, 'replica bookkeeping stays out of the API');

  await up.held('happy');
  const seen: number[] = [];
  const watching = readEvents(`${gw.url}/v1/workspaces/ws-1/jobs/${id}/events`, TOKEN_ALL, {
    onEvent: (e) => {
      if (e.event === 'progress') {
        seen.push(e.data.bytes);
        if (e.data.bytes > 0) up.release('happy');
      }
    },
  });
  const { status, contentType, events } = await watching;
  t.equal(status, 200);
  t.match(contentType, /^text\/event-stream/);
  const done = events.at(-1)!;
  t.equal(done.event, 'done');
  t.ok(seen.length >= 1 && seen.some((b) => b > 0), `progress events carried bytes (${seen.join(', ')})`);
  t.same(seen, [...seen].sort((a, b) => a - b), 'bytes never go down');
  t.ok(events.filter((e) => e.id !== undefined).every((e, i, all) => i === 0 || Number(e.id) > Number(all[i - 1]!.id)), 'event ids increase');
  t.equal(done.data.state, 'succeeded');
  t.equal(done.data.bytes, SIZE);
  t.equal(done.data['total-bytes'], SIZE);

  const job = await gw.call('GET', `/v1/workspaces/ws-1/jobs/${id}`);
  t.equal(job.status, 200);
  t.equal(job.json.state, 'succeeded');
  t.equal(job.json.attempts, 1);
  const result = job.json.result;
  t.equal(result.type, 'resource-ref');
  t.equal(result['blob-ref'].size, SIZE);
  t.equal(result['blob-ref'].sha256, patternSha256(SIZE));
  // The same shape as the synchronous call's answer.
  up.release('sync-shape');
  const sync = await gw.call('POST', '/v1/workspaces/ws-1/http', stepBody('sync-shape'));
  t.equal(sync.status, 200);
  t.same(Object.keys(result).sort(), Object.keys(sync.json).sort());
  t.same(Object.keys(result['blob-ref']).sort(), Object.keys(sync.json['blob-ref']).sort());
  const content = await fetch(`${gw.url}/v1/resources/content?uri=${encodeURIComponent(result.uri)}`, { headers: { authorization: `Bearer ${TOKEN_ALL}` } });
  t.equal(Buffer.from(await content.arrayBuffer()).length, SIZE);
});

t.test('a finished job answers its events with one done event; Last-Event-ID resumes past what was seen', async (t) => {
  up.release('finished');
  const accepted = await submit(stepBody('finished'));
  const id = accepted.json.id;
  await until('the job ended', async () => (await gw.call('GET', `/v1/workspaces/ws-1/jobs/${id}`)).json.state === 'succeeded');
  const { events } = await readEvents(`${gw.url}/v1/workspaces/ws-1/jobs/${id}/events`, TOKEN_ALL);
  t.same(events.map((e) => e.event), ['done']);
  const again = await readEvents(`${gw.url}/v1/workspaces/ws-1/jobs/${id}/events`, TOKEN_ALL, { lastEventId: events[0]!.id! });
  t.same(again.events.map((e) => e.event), ['done'], 'the final state is always sent');
});

t.test('cancel: the transfer is aborted, nothing is left, the job reads cancelled; cancelling again answers the same', async (t) => {
  const before = new Set((await gw.residue()).objects);
  const accepted = await submit(stepBody('cancel-me'));
  const id = accepted.json.id;
  await up.held('cancel-me');
  await until('bytes moved', async () => (await gw.call('GET', `/v1/workspaces/ws-1/jobs/${id}`)).json.bytes > 0);
  const cancelled = await gw.call('DELETE', `/v1/workspaces/ws-1/jobs/${id}`);
  t.equal(cancelled.status, 200);
  t.equal(cancelled.json.state, 'cancelled');
  t.match(cancelled.json.error, { code: 'aborted', details: { reason: 'cancelled' } });
  const residue = await gw.residue();
  t.same(residue.tmp.filter((f) => !f.endsWith('.record')), [], 'no temp file');
  t.same(residue.objects.filter((f) => !before.has(f)), [], 'no object');
  const again = await gw.call('DELETE', `/v1/workspaces/ws-1/jobs/${id}`);
  t.equal(again.status, 200);
  t.equal(again.json.state, 'cancelled');
  up.release('cancel-me');
});

t.test('Idempotency-Key: a repeat returns the same job and result, one upstream call, one object', async (t) => {
  up.release('idem');
  const headers = { 'idempotency-key': 'run-42/step-7' };
  const first = await submit(stepBody('idem'), headers);
  t.equal(first.status, 202);
  t.notOk(first.headers.get('idempotent-replayed'));
  const second = await submit(stepBody('idem'), headers);
  t.equal(second.status, 202);
  t.equal(second.json.id, first.json.id, 'the same job');
  t.equal(second.headers.get('idempotent-replayed'), 'true');
  // Synchronous with the same key: waits for the same job and answers its result.
  const sync = await gw.call('POST', '/v1/workspaces/ws-1/http', stepBody('idem'), { headers });
  t.equal(sync.status, 200);
  t.equal(sync.headers.get('blobgate-job-id'), first.json.id);
  const job = await gw.call('GET', `/v1/workspaces/ws-1/jobs/${first.json.id}`);
  t.same(sync.json, job.json.result, 'the job result, exactly');
  t.equal(up.hits('idem'), 1, 'one upstream call');
  // Key order in the body does not make it another request.
  const reordered = JSON.parse(JSON.stringify({ persist: stepBody('idem').persist, request: stepBody('idem').request, 'step-id': 'step', 'flow-slug': 'flow' }));
  t.equal((await submit(reordered, headers)).json.id, first.json.id);
  // The same key for a different request.
  const other = await submit(stepBody('idem', { 'run-id': 'r2' }), headers);
  t.equal(other.status, 422);
  t.equal(other.json.error.code, 'idempotency_key_reused');
  // Another workspace's key space is its own.
  const elsewhere = await submit(stepBody('idem'), headers, 'ws-2');
  t.equal(elsewhere.status, 202);
  t.not(elsewhere.json.id, first.json.id);
});

t.test('a repeat while the first still runs waits for it (sync) or returns it (async); never a second transfer', async (t) => {
  const headers = { 'idempotency-key': 'concurrent-1' };
  const firstSync = gw.call('POST', '/v1/workspaces/ws-1/http', stepBody('conc'), { headers });
  await up.held('conc');
  const asyncRepeat = await submit(stepBody('conc'), headers);
  t.equal(asyncRepeat.status, 202);
  // The record says running once the owner's write of it landed, which may follow the first upstream byte.
  t.match(asyncRepeat.json.state, /^(queued|running)$/);
  const secondSync = gw.call('POST', '/v1/workspaces/ws-1/http', stepBody('conc'), { headers });
  up.release('conc');
  const [a, b] = await Promise.all([firstSync, secondSync]);
  t.equal(a.status, 200);
  t.equal(b.status, 200);
  t.same(a.json, b.json);
  t.equal(up.hits('conc'), 1);
});

t.test('a synchronous step with a key outlives its client; the retry gets its answer', async (t) => {
  const headers = { 'idempotency-key': 'client-leaves' };
  const controller = new AbortController();
  const leaving = fetch(`${gw.url}/v1/workspaces/ws-1/http`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(stepBody('leaves')),
    signal: controller.signal,
  }).catch(() => 'aborted');
  await up.held('leaves');
  controller.abort();
  t.equal(await leaving, 'aborted');
  up.release('leaves');
  const retry = await gw.call('POST', '/v1/workspaces/ws-1/http', stepBody('leaves'), { headers });
  t.equal(retry.status, 200);
  t.equal(retry.json['blob-ref'].sha256, patternSha256(SIZE));
  t.equal(up.hits('leaves'), 1);
});

t.test('a failed job keeps its error for a repeat with its key', async (t) => {
  const headers = { 'idempotency-key': 'fails' };
  const body = { 'flow-slug': 'flow', 'step-id': 'step', request: { url: `${up.url}/nothing-here` }, persist: { type: 'blob' } };
  const first = await gw.call('POST', '/v1/workspaces/ws-1/http', body, { headers });
  t.equal(first.status, 502);
  t.equal(first.json.error.code, 'upstream_status');
  const again = await gw.call('POST', '/v1/workspaces/ws-1/http', body, { headers });
  t.equal(again.status, 502);
  t.equal(again.json.error.code, 'upstream_status');
  t.equal(again.headers.get('idempotent-replayed'), 'true');
  t.equal(again.json.error.details.job, first.json.error.details.job);
});

t.test('bad Idempotency-Key headers are refused before anything runs', async (t) => {
  for (const key of ['x'.repeat(256), 'tab\there', 'é']) {
    const res = await submit(stepBody('bad-key'), { 'idempotency-key': key });
    t.equal(res.status, 400, JSON.stringify(key));
    t.equal(res.json.error.code, 'invalid_request');
    t.equal(res.json.error.details.field, 'idempotency-key');
  }
  t.equal(up.hits('bad-key'), 0);
});

t.test('listing: by state, paged by cursor', async (t) => {
  for (const n of [1, 2, 3]) {
    up.release(`list-${n}`);
    const res = await submit(stepBody(`list-${n}`), {}, 'ws-2');
    await until('listed job ended', async () => (await gw.call('GET', `/v1/workspaces/ws-2/jobs/${res.json.id}`)).json.state === 'succeeded');
  }
  const all = await gw.call('GET', '/v1/workspaces/ws-2/jobs?state=succeeded');
  t.equal(all.status, 200);
  t.ok(all.json.items.length >= 3);
  t.ok(all.json.items.every((j: any) => j.state === 'succeeded'));
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await gw.call('GET', `/v1/workspaces/ws-2/jobs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    t.ok(page.json.items.length <= 2);
    ids.push(...page.json.items.map((j: any) => j.id));
    cursor = page.json.cursor;
  } while (cursor);
  t.equal(new Set(ids).size, ids.length, 'no job twice');
  t.ok(ids.length >= 4, 'every job of ws-2, over pages');
  const bad = await gw.call('GET', '/v1/workspaces/ws-2/jobs?state=finished');
  t.equal(bad.status, 400);
});

t.test('jobs are workspace-scoped; unknown and malformed ids are 404 not_found', async (t) => {
  up.release('scoped');
  const res = await submit(stepBody('scoped'), {}, 'ws-2');
  const id = res.json.id;
  const foreign = await gw.call('GET', `/v1/workspaces/ws-2/jobs/${id}`, undefined, { token: TOKEN_WS1 });
  t.equal(foreign.status, 403);
  t.equal(foreign.json.error.code, 'forbidden');
  for (const path of [`/v1/workspaces/ws-2/jobs/${id}/events`, `/v1/workspaces/ws-2/jobs`]) {
    t.equal((await gw.call('GET', path, undefined, { token: TOKEN_WS1 })).status, 403, path);
  }
  t.equal((await gw.call('DELETE', `/v1/workspaces/ws-2/jobs/${id}`, undefined, { token: TOKEN_WS1 })).status, 403);
  const wrongWs = await gw.call('GET', `/v1/workspaces/ws-1/jobs/${id}`);
  t.equal(wrongWs.status, 404);
  t.equal(wrongWs.json.error.code, 'not_found');
  for (const bad of ['job_000000000000000000000000', 'nope', '..%2F..%2Fx', 'job_' + 'a'.repeat(60)]) {
    const r = await gw.call('GET', `/v1/workspaces/ws-1/jobs/${bad}`);
    t.equal(r.status, 404, bad);
    t.equal(r.json.error.code, 'not_found');
    t.equal((await gw.call('DELETE', `/v1/workspaces/ws-1/jobs/${bad}`)).status, 404);
  }
  // Records never show as resources.
  const listed = await gw.call('GET', '/v1/workspaces/ws-2/resources');
  t.notOk(JSON.stringify(listed.json).includes('jobs/'), 'no job record in the resource listing');
});
