// A write that fails after several chunks reached GCS (cap breach, source
// error, abort) cancels its resumable session and leaves no object: not at
// the key, not at a staging name.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { CHUNK, gatedSource, startGcs, until } from './harness.js';

const gcs = await startGcs(t);
// The resumable path (parallelParts 1); parts-failure.test.ts covers parallel composite uploads.
const driver = gcs.driver({ prefix: 'env-f', parallelParts: 1 });
const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'ephemeral', createdAt: '2026-11-22T10:00:00.000Z' };
const BEFORE = 3 * CHUNK + 1000; // the client sends three whole chunks and holds the rest until it knows more

type Trigger = (src: ReturnType<typeof gatedSource>, ac: AbortController) => void;

const cases: Array<{ name: string; maxBytes: number; trigger: Trigger; expect: { code: string } | { message: string } }> = [
  { name: 'cap breach', maxBytes: BEFORE + 10, trigger: (src) => src.more(100), expect: { code: 'cap_exceeded' } },
  { name: 'source error', maxBytes: 1 << 30, trigger: (src) => src.fail(new Error('upstream reset (test)')), expect: { message: 'upstream reset (test)' } },
  { name: 'abort', maxBytes: 1 << 30, trigger: (_src, ac) => ac.abort(), expect: { code: 'aborted' } },
];

for (const c of cases) {
  t.test(`${c.name} after three chunks were persisted`, async (t) => {
    const key = `workspaces/ws-f/${randomUUID()}/${c.name.replace(' ', '-')}.bin`;
    const src = gatedSource(BEFORE);
    const ac = new AbortController();
    const write = driver.write({ key, body: src.body, maxBytes: c.maxBytes, meta: META, signal: ac.signal });
    write.catch(() => undefined);

    await src.drained;
    await until(() => (gcs.server.openSessions(gcs.bucket)[0]?.received ?? 0) >= 3 * CHUNK, 'three chunks at the server');
    const open = gcs.server.openSessions(gcs.bucket);
    t.equal(open.length, 1, 'one resumable session is open');
    t.equal(open[0]?.received, 3 * CHUNK, 'three whole chunks persisted in the session');
    t.match(open[0]?.name, /^env-f\/\.blobgate-staging\/[0-9a-f-]{36}$/, 'the session targets a staging name, not the key');
    t.notOk(gcs.server.objectNames(gcs.bucket).includes(`env-f/${key}`), 'nothing at the key mid-upload');

    c.trigger(src, ac);
    const started = Date.now();
    await t.rejects(write, c.expect);
    t.ok(Date.now() - started < 4000, 'the write rejects promptly');
    t.ok(src.body.destroyed, 'the driver destroyed the body it owned');

    t.same(gcs.leftovers(), [], 'no open session and no staging object');
    t.same(gcs.server.objectNames(gcs.bucket).filter((n) => n.startsWith(`env-f/${key}`)), [], 'no object at the key');
    await t.rejects(driver.head(key), { code: 'not_found' });
  });
}

t.test('a GCS error on a chunk (bucket deleted mid-upload) cancels the session too', async (t) => {
  const bucket = 'bg-vanishing';
  gcs.server.createBucket(bucket);
  const d = gcs.driver({ bucket, parallelParts: 1 });
  const key = `workspaces/ws-f/${randomUUID()}/vanishing.bin`;
  const src = gatedSource(BEFORE);
  const write = d.write({ key, body: src.body, maxBytes: 1 << 30, meta: META, signal: new AbortController().signal });
  write.catch(() => undefined);
  await src.drained;
  await until(() => (gcs.server.openSessions(bucket)[0]?.received ?? 0) >= 3 * CHUNK, 'three chunks at the server');
  // Finalization checks that the bucket still exists: drop it (and the session record in it), then end the body.
  for (const name of gcs.server.objectNames(bucket)) await fetch(`${gcs.server.url}/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}`, { method: 'DELETE' });
  const res = await fetch(`${gcs.server.url}/storage/v1/b/${bucket}`, { method: 'DELETE' });
  t.equal(res.status, 204, 'bucket deleted');
  src.body.push(null);
  const err = await write.then(() => undefined, (e: unknown) => e);
  t.match(err, { code: 'storage_error' });
  t.notMatch(String((err as Error).message), /specified bucket|does not exist/, 'no backend text in the message');
  t.ok((err as Error).cause, 'the SDK error is kept as cause');
  t.same(gcs.server.openSessions(bucket), [], 'the session was cancelled');
});
