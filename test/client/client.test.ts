// The typed client against a real gateway and upstream: steps sync and async, jobs, resources, uploads, errors.
import t from 'tap';
import { BlobgateApiError, BlobgateClient, type JobProgress } from '../../src/client/index.js';
import { patternChunk, patternSha256, sha256 } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL, TOKEN_WS1 } from '../helpers/gateway.js';
import { startGatedUpstream } from '../faults/gated-upstream.js';

t.test('the typed client', async (t) => {
  const gw = await startGateway({ jobs: { 'heartbeat-seconds': 0.1, 'lost-after-seconds': 3 } });
  const up = await startGatedUpstream();
  t.teardown(async () => {
    await gw.close();
    await up.stop();
  });
  const client = new BlobgateClient({ url: gw.url, token: TOKEN_ALL });
  const size = 2 * 1024 * 1024;

  up.release('sync');
  const result = await client.runStep('ws-1', { 'flow-slug': 'f', 'step-id': 's', request: { url: `${up.url}/gated/sync/${size}` }, persist: { type: 'blob' } });
  t.ok('blob-ref' in result && result['blob-ref'].sha256 === patternSha256(size), 'a persisted result');

  const job = await client.submitStep('ws-1', { 'flow-slug': 'f', 'step-id': 's', url: `${up.url}/gated/async/${size}?hold=65536`, persist: { type: ':blob' } }, { idempotencyKey: 'client-1' });
  t.match(job, { id: /^job_/, state: 'queued' });
  const seen: JobProgress[] = [];
  const final = await client.watchJob('ws-1', job.id, {
    onProgress: (p) => {
      seen.push(p);
      if (p.bytes > 0) up.release('async');
    },
  });
  t.equal(final.state, 'succeeded');
  t.ok(seen.some((p) => p.bytes > 0), 'progress reached onProgress');
  t.same((await client.submitStep('ws-1', { 'flow-slug': 'f', 'step-id': 's', url: `${up.url}/gated/async/${size}?hold=65536`, persist: { type: ':blob' } }, { idempotencyKey: 'client-1' })).id, job.id, 'the key finds the job');
  t.ok((await client.listJobs('ws-1', { state: 'succeeded' })).items.some((j) => j.id === job.id));

  const ref = await client.uploadFile('ws-1', 'up.bin', patternChunk(0, 1000), { path: 'client' });
  t.equal(ref['blob-ref'].sha256, sha256(patternChunk(0, 1000)));
  t.same((await client.getResource(ref.uri))['blob-ref'], ref['blob-ref']);
  const signed = await client.signUrl({ uri: ref.uri, 'ttl-seconds': 120 });
  t.equal((await fetch(signed.url)).status, 200);
  t.ok((await client.listResources('ws-1', { 'path-prefix': 'persist/' })).items.length >= 0);
  await client.deleteResource(ref.uri);

  const err = await client.getResource(ref.uri).catch((e: unknown) => e);
  t.ok(err instanceof BlobgateApiError);
  t.match(err, { status: 404, code: 'not_found' });
  const forbidden = await new BlobgateClient({ url: gw.url, token: TOKEN_WS1 }).getJob('ws-2', job.id).catch((e: unknown) => e);
  t.match(forbidden, { status: 403, code: 'forbidden' });
});
