// One transient fault on a GCS request (a 500, a 503, a dropped connection)
// is retried by the client library and the write or read succeeds; and no
// write changes the client's shared retry settings, so reads after a large
// write are still retried.
import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { buildGcsStorage } from '../../src/storage/gcs/client.js';
import type { GcsDriver } from '../../src/storage/gcs/gcs-driver.js';
import type { StoreFault } from '../../support/servers/faults.js';
import type { GcsOperation } from '../../support/servers/gcs/server.js';
import { patternSha256, patternStream, sha256OfStream } from '../helpers/bytes.js';
import { CHUNK, FAST_RETRIES, type GcsHarness, startGcs } from './harness.js';

const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'ephemeral', createdAt: '2026-11-22T10:00:00.000Z' };
const signal = new AbortController().signal;
const LARGE = 3 * CHUNK + 7;
const SMALL = 1000;

const faults: StoreFault[] = [500, 503, 'drop'];
const writeOps: Array<[GcsOperation, number, { skip?: number }?]> = [
  ['session-start', LARGE],
  ['chunk', LARGE, { skip: 1 }],
  ['single-upload', SMALL],
  ['rewrite', LARGE],
  ['delete', LARGE], // the staging object's delete after the publish
];
const readOps: GcsOperation[] = ['metadata-get', 'media-get'];

interface Case {
  /** Names the case's group. */
  name: string;
  title: (fault: StoreFault) => string;
  /** Arms `fault` and asserts the outcome on `t`. */
  run: (t: Test, gcs: GcsHarness, driver: GcsDriver, fault: StoreFault) => Promise<void>;
}

const write = (driver: GcsDriver, size: number) =>
  driver.write({ key: `workspaces/ws-r/${randomUUID()}/obj.bin`, body: patternStream(size, { chunkSize: 64 * 1024 }), maxBytes: size, meta: META, signal });

const cases: Case[] = [
  ...writeOps.map(([op, size, opts]): Case => ({
    name: `${op} in a write`,
    title: (fault) => `one ${fault} on ${op}: the write succeeds with every byte`,
    run: async (t, gcs, driver, fault) => {
      const armed = gcs.server.fail(op, fault, opts);
      const stored = await write(driver, size);
      t.equal(armed.hits, 1, 'the fault fired');
      t.equal(stored.meta.sha256, patternSha256(size));
      t.same(await sha256OfStream((await driver.read(stored.key)).body), { sha256: patternSha256(size), size });
      t.same(gcs.leftovers(), [], 'no session, no staging object');
    },
  })),
  ...readOps.map(
    (op): Case => ({
      name: `${op} in a read`,
      title: (fault) => `after a multi-chunk write, one ${fault} on ${op}: the read is retried and succeeds`,
      run: async (t, gcs, driver, fault) => {
        const stored = await write(driver, LARGE);
        const armed = gcs.server.fail(op, fault);
        const read = await driver.read(stored.key);
        t.same(await sha256OfStream(read.body), { sha256: patternSha256(LARGE), size: LARGE });
        t.equal(armed.hits, 1, 'the fault fired');
      },
    }),
  ),
  {
    name: 'delete of an object',
    title: (fault) => `one ${fault} on delete: the delete is retried`,
    run: async (t, gcs, driver, fault) => {
      const stored = await write(driver, SMALL);
      const armed = gcs.server.fail('delete', fault);
      await driver.delete(stored.key);
      t.equal(armed.hits, 1, `the ${fault} fired`);
      await t.rejects(driver.head(stored.key), { code: 'not_found' });
    },
  },
  {
    name: 'session-cancel after a failed write',
    title: (fault) => `one ${fault} on the session cancel of a failed write: nothing is left`,
    run: async (t, gcs, driver, fault) => {
      const armed = gcs.server.fail('session-cancel', fault);
      const body = patternStream(4 * CHUNK, { failAfter: 2 * CHUNK + 1000 });
      await t.rejects(driver.write({ key: `workspaces/ws-r/${randomUUID()}/f.bin`, body, maxBytes: 1 << 30, meta: META, signal }), { message: /source failed on purpose/ });
      t.equal(armed.hits, 1, `the ${fault} fired`);
      t.same(gcs.leftovers(), [], 'no session, no staging object, no session record');
    },
  },
];

// Each retry waits on a timer (the shortest backoff the client allows,
// FAST_RETRIES: which requests are retried, and how often, is the production
// configuration, GCS_RETRY_OPTIONS). So each case gets a server and a client
// of its own, and the cases run side by side: a fault is armed per server, so
// none can hit another case's request or leftovers. Within a case the three
// faults run one after another on the one client.
t.jobs = cases.length;

for (const c of cases) {
  t.test(`${c.name}: ${faults.join(', ')} in turn`, async (t) => {
    const gcs = await startGcs(t, 'bg-test', { retryTiming: FAST_RETRIES });
    // The resumable path (parallelParts 1); parallel-parts.test.ts covers the retries of parts and composes.
    const driver = gcs.driver({ prefix: 'env-r', parallelParts: 1 });
    const settings = () => JSON.stringify(gcs.storage.retryOptions, (_k, v: unknown) => (typeof v === 'function' ? `fn:${v.name}` : v));
    const initial = settings();
    for (const fault of faults) {
      await t.test(c.title(fault), async (t) => {
        await c.run(t, gcs, driver, fault);
        t.equal(settings(), initial, "the client's shared retry settings are unchanged");
      });
    }
  });
}

t.test('retry timing below the client floor is refused when the client is built', async (t) => {
  // Below 1 s, File.save and createResumableUpload would throw on every call (async-retry's minTimeout).
  t.throws(() => buildGcsStorage({ retryTiming: { maxRetryDelay: 0.5 } }), { name: 'RangeError', message: /maxRetryDelay .* at least 1, got 0.5/ });
  t.throws(() => buildGcsStorage({ retryTiming: { retryDelayMultiplier: 0 } }), { name: 'RangeError', message: /retryDelayMultiplier must be a positive number/ });
  const storage = buildGcsStorage({ apiEndpoint: 'http://127.0.0.1:9', retryTiming: FAST_RETRIES });
  t.match(storage.retryOptions, { maxRetryDelay: 1, retryDelayMultiplier: 1, maxRetries: 3, totalTimeout: 86_400, autoRetry: true }, 'only the timing is replaced');
});
