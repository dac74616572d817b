// One transient fault on a GCS request (a 500, a 503, a dropped connection)
// is retried by the client library and the write or read succeeds; and no
// write changes the client's shared retry settings, so reads after a large
// write are still retried.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import type { StoreFault } from '../servers/faults.js';
import type { GcsOperation } from '../servers/gcs/server.js';
import { patternSha256, patternStream, sha256OfStream } from '../helpers/bytes.js';
import { CHUNK, startGcs } from './harness.js';

const gcs = await startGcs(t);
const storage = gcs.storage;
const driver = gcs.driver({ prefix: 'env-r' });
const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'ephemeral', createdAt: '2026-11-22T10:00:00.000Z' };
const signal = new AbortController().signal;
const LARGE = 3 * CHUNK + 7;
const SMALL = 1000;

const write = (size: number, key = `workspaces/ws-r/${randomUUID()}/obj.bin`) =>
  driver.write({ key, body: patternStream(size, { chunkSize: 64 * 1024 }), maxBytes: size, meta: META, signal });

const settings = () => JSON.stringify(storage.retryOptions, (_k, v: unknown) => (typeof v === 'function' ? `fn:${v.name}` : v));
const initial = settings();

const faults: StoreFault[] = [500, 503, 'drop'];
const writeOps: Array<[GcsOperation, number, { skip?: number }?]> = [
  ['session-start', LARGE],
  ['chunk', LARGE, { skip: 1 }],
  ['single-upload', SMALL],
  ['rewrite', LARGE],
  ['delete', LARGE], // the staging object's delete after the publish
];

for (const [op, size, opts] of writeOps) {
  for (const fault of faults) {
    t.test(`one ${fault} on ${op}: the write succeeds with every byte`, async (t) => {
      const armed = gcs.server.fail(op, fault, opts);
      const stored = await write(size);
      t.equal(armed.hits, 1, 'the fault fired');
      t.equal(stored.meta.sha256, patternSha256(size));
      t.same(await sha256OfStream((await driver.read(stored.key)).body), { sha256: patternSha256(size), size });
      t.same(gcs.leftovers(), [], 'no session, no staging object');
      t.equal(settings(), initial, "the client's shared retry settings are unchanged");
    });
  }
}

const readOps: GcsOperation[] = ['metadata-get', 'media-get'];
for (const op of readOps) {
  for (const fault of faults) {
    t.test(`after a multi-chunk write, one ${fault} on ${op}: the read is retried and succeeds`, async (t) => {
      const stored = await write(LARGE);
      const armed = gcs.server.fail(op, fault);
      const read = await driver.read(stored.key);
      t.same(await sha256OfStream(read.body), { sha256: patternSha256(LARGE), size: LARGE });
      t.equal(armed.hits, 1, 'the fault fired');
      t.equal(settings(), initial, "the client's shared retry settings are unchanged");
    });
  }
}

t.test('one fault on delete: the delete is retried', async (t) => {
  for (const fault of faults) {
    const stored = await write(SMALL);
    const armed = gcs.server.fail('delete', fault);
    await driver.delete(stored.key);
    t.equal(armed.hits, 1, `the ${fault} fired`);
    await t.rejects(driver.head(stored.key), { code: 'not_found' });
  }
  t.equal(settings(), initial, "the client's shared retry settings are unchanged");
});

t.test('one fault on the session cancel of a failed write: nothing is left', async (t) => {
  for (const fault of faults) {
    const armed = gcs.server.fail('session-cancel', fault);
    const body = patternStream(4 * CHUNK, { failAfter: 2 * CHUNK + 1000 });
    await t.rejects(driver.write({ key: `workspaces/ws-r/${randomUUID()}/f.bin`, body, maxBytes: 1 << 30, meta: META, signal }), { message: /source failed on purpose/ });
    t.equal(armed.hits, 1, `the ${fault} fired`);
    t.same(gcs.leftovers(), [], 'no session, no staging object, no session record');
  }
  t.equal(settings(), initial, "the client's shared retry settings are unchanged");
});
