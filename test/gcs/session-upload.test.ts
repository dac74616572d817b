// blobgate's own data plane for a resumable session (gcs-session-upload.ts):
// a chunk cut mid-body resumes from what the session holds (also when the
// rest is too short for a chunk of its own), a lost answer is recovered by a
// status query, the chunks come from the buffer budget and go back to it,
// and bytes changed on the way never become an object.
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t, { type Test } from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { BufferBudget } from '../../src/storage/buffer-budget.js';
import { buildGcsStorage } from '../../src/storage/gcs/client.js';
import { GcsDriver } from '../../src/storage/gcs/gcs-driver.js';
import { patternSha256, patternStream, sha256OfStream } from '../helpers/bytes.js';
import { CHUNK, FAST_RETRIES, type GcsHarness, gatedSource, startGcs, until } from './harness.js';

const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'ephemeral', createdAt: '2026-12-02T10:00:00.000Z' };
const signal = new AbortController().signal;
const MiB = 1024 * 1024;

const key = (): string => `workspaces/ws-s/${randomUUID()}/obj.bin`;

async function writeAndCheck(t: Test, gcs: GcsHarness, driver: GcsDriver, size: number): Promise<void> {
  const stored = await driver.write({ key: key(), body: patternStream(size, { chunkSize: 64 * 1024 }), maxBytes: size, meta: META, signal });
  t.equal(stored.meta.size, size);
  t.equal(stored.meta.sha256, patternSha256(size));
  t.same(await sha256OfStream((await driver.read(stored.key)).body), { sha256: patternSha256(size), size }, 'the stored bytes are the body');
  t.same(gcs.leftovers(), [], 'no session, no staging object');
}

t.test('faults inside a chunk', async (t) => {
  const gcs = await startGcs(t, 'bg-test', { retryTiming: FAST_RETRIES });
  const driver = gcs.driver({ prefix: 'env-s', chunkSize: 1 * MiB, parallelParts: 1 });
  t.teardown(() => driver.close());
  const SIZE = 3 * MiB + 12_345;

  await t.test('a chunk cut after a quarter: the rest of it is sent from what the session holds', async (t) => {
    const queries = gcs.server.requestCount('session-query');
    const cut = gcs.server.cutChunk(256 * 1024, { skip: 1 });
    await writeAndCheck(t, gcs, driver, SIZE);
    t.equal(cut.hits, 1, 'the cut struck');
    t.ok(gcs.server.requestCount('session-query') > queries, 'the upload asked the session what it holds');
  });

  await t.test('a chunk cut 1000 bytes short of its end: the rest goes first in the next chunk', async (t) => {
    const cut = gcs.server.cutChunk(MiB - 1000, { skip: 1 });
    await writeAndCheck(t, gcs, driver, SIZE);
    t.equal(cut.hits, 1, 'the cut struck');
  });

  await t.test('the last chunk cut: the upload still finalizes with every byte', async (t) => {
    const cut = gcs.server.cutChunk(5000, { skip: 3 });
    await writeAndCheck(t, gcs, driver, SIZE);
    t.equal(cut.hits, 1, 'the cut struck');
  });

  await t.test("a chunk's answer lost after the session kept it: the status query says so and the upload goes on", async (t) => {
    const lost = gcs.server.failAfter('chunk', 'drop', { skip: 1 });
    await writeAndCheck(t, gcs, driver, SIZE);
    t.equal(lost.hits, 1, 'the answer was lost');
  });

  await t.test("the last chunk's answer lost after it finalized: the status query answers with the object", async (t) => {
    const lost = gcs.server.failAfter('chunk', 503, { skip: 3 });
    await writeAndCheck(t, gcs, driver, SIZE);
    t.equal(lost.hits, 1, 'the answer was lost');
  });

  await t.test('a body that ends on a chunk boundary', async (t) => {
    await writeAndCheck(t, gcs, driver, 3 * MiB);
  });
});

t.test('a chunk that keeps failing fails the write after the retries, at once, with the store error', async (t) => {
  const gcs = await startGcs(t, 'bg-test', { retryTiming: FAST_RETRIES });
  // A budget of one chunk: while the first is in flight the write waits for a buffer.
  const buffers = new BufferBudget(CHUNK);
  const driver = gcs.driver({ prefix: 'env-k', parallelParts: 1, buffers });
  t.teardown(() => driver.close());
  const retries = gcs.storage.retryOptions.maxRetries ?? 3;

  await t.test('every PUT of a chunk fails while the status queries succeed: the retries still run out', async (t) => {
    // The first chunk goes out, then the source pauses inside the second, and never goes on.
    const src = gatedSource(CHUNK + 1000);
    const failing = gcs.server.fail('chunk', 503, { times: 1000 });
    const roomy = gcs.driver({ prefix: 'env-k', parallelParts: 1 });
    t.teardown(() => roomy.close());
    const write = roomy.write({ key: key(), body: src.body, maxBytes: 1 << 30, meta: META, signal });
    await t.rejects(write, { code: 'storage_error' }, 'the store error, although the source never ends');
    t.equal(failing.hits, retries + 1, 'the first PUT and its retries, then no more');
    t.ok(gcs.server.requestCount('session-query') >= retries, 'each retry asked the session first');
    gcs.server.clearFaults();
    await until(() => gcs.leftovers().length === 0, 'the cleanup ran');
    t.equal(roomy.buffers.counts().inUse, 0, 'every buffer was given back');
  });

  await t.test('the write waiting for a buffer when its chunk fails rejects with the store error, not aborted', async (t) => {
    gcs.server.fail('chunk', 503, { times: 1000 });
    const write = driver.write({ key: key(), body: patternStream(8 * CHUNK, { chunkSize: 64 * 1024 }), maxBytes: 1 << 30, meta: META, signal });
    await t.rejects(write, { code: 'storage_error' });
    gcs.server.clearFaults();
    await until(() => gcs.leftovers().length === 0, 'the cleanup ran');
    t.equal(buffers.counts().inUse, 0, 'every buffer was given back');
  });
});

t.test("the source's buffers do not outlive their copy into a chunk", async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const gcs = await startGcs(t);
  const driver = gcs.driver({ prefix: 'env-m', parallelParts: 1 });
  t.teardown(() => driver.close());
  const PIECE = 64 * 1024;
  const PIECES = 256; // 16 MiB, 64 chunks
  const refs: Array<WeakRef<Buffer>> = [];
  let produced = 0;
  let more!: () => void;
  const paused = new Promise<void>((r) => (more = r));
  let reachedPause!: () => void;
  const atPause = new Promise<void>((r) => (reachedPause = r));
  const body = new Readable({
    read() {
      if (produced === PIECES) {
        reachedPause();
        void paused.then(() => this.push(null));
        return;
      }
      const b = Buffer.alloc(PIECE, produced & 0xff);
      refs.push(new WeakRef(b));
      produced++;
      this.push(b);
    },
  });
  const write = driver.write({ key: key(), body, maxBytes: 1 << 30, meta: META, signal });
  await atPause;
  await until(() => (gcs.server.openSessions(gcs.bucket)[0]?.received ?? 0) >= (PIECES * PIECE) - 2 * CHUNK, 'all but the last chunks at the server');
  gc();
  await new Promise((r) => setImmediate(r));
  gc();
  const alive = refs.filter((r) => r.deref() !== undefined).length;
  t.ok(alive <= 32, `${alive} of ${PIECES} source buffers still reachable mid-write (at most a few chunks' worth)`);
  more();
  await write;
});

t.test('chunks come from the buffer budget', async (t) => {
  const gcs = await startGcs(t);
  // Room for two chunks: one transfer's chunk in flight and the one it fills.
  const buffers = new BufferBudget(2 * CHUNK);
  const driver = gcs.driver({ prefix: 'env-b', parallelParts: 1, buffers });
  t.teardown(() => driver.close());
  const SIZE = 8 * CHUNK + 5;

  await t.test('three writes at once share two chunks of room, and all complete', async (t) => {
    const held = gcs.server.hold('chunk');
    const writes = [0, 1, 2].map(() => driver.write({ key: key(), body: patternStream(SIZE, { chunkSize: 64 * 1024 }), maxBytes: SIZE, meta: META, signal }));
    await until(() => held.waiting >= 1 && buffers.counts().waiting >= 1, 'a chunk in flight and a write waiting for a buffer');
    t.ok(buffers.counts().inUse <= 2 * CHUNK, 'no more than the budget is handed out');
    held.release();
    const stored = await Promise.all(writes);
    for (const s of stored) t.equal(s.meta.sha256, patternSha256(SIZE));
    t.equal(buffers.counts().inUse, 0, 'every buffer was given back');
    t.same(gcs.leftovers(), []);
  });

  await t.test('a failed write gives its buffers back', async (t) => {
    const body = patternStream(SIZE, { failAfter: 3 * CHUNK + 100 });
    await t.rejects(driver.write({ key: key(), body, maxBytes: 1 << 30, meta: META, signal }), { message: /source failed on purpose/ });
    t.equal(buffers.counts().inUse, 0, 'every buffer was given back');
    await until(() => gcs.leftovers().length === 0, 'the cleanup ran');
  });
});

/**
 * A proxy in front of the GCS server that flips one byte in the body of the
 * second chunk request, and (`stripHash`) drops the X-Goog-Hash header, so
 * only blobgate's own check of the final resource can notice.
 */
async function corruptingProxy(t: Test, target: string, stripHash: boolean): Promise<{ url: string; flipped: () => number; chunkAnswers: number[] }> {
  const to = new URL(target);
  let chunks = 0;
  let flipped = 0;
  const chunkAnswers: number[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const isChunk = req.method === 'PUT' && (req.url ?? '').includes('upload_id=') && !/^\s*bytes\s+\*/.test(String(req.headers['content-range'] ?? ''));
    const flip = isChunk && ++chunks === 2;
    const headers = { ...req.headers };
    if (stripHash) delete headers['x-goog-hash'];
    const up = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers }, (answer) => {
      if (isChunk) chunkAnswers.push(answer.statusCode ?? 0);
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    let seen = 0;
    req.on('data', (c: Buffer) => {
      if (flip && seen <= 10 && seen + c.length > 10) {
        c = Buffer.from(c);
        c[10 - seen] ^= 0xff;
        flipped++;
      }
      seen += c.length;
      up.write(c);
    });
    req.on('end', () => up.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, flipped: () => flipped, chunkAnswers };
}

for (const stripHash of [false, true]) {
  const title = stripHash ? "a byte changed on the way and the hash header dropped: blobgate's check of the final object refuses it" : 'a byte changed on the way: GCS refuses to finalize against the hash blobgate sent';
  t.test(title, async (t) => {
    const gcs = await startGcs(t);
    const proxy = await corruptingProxy(t, gcs.server.url, stripHash);
    const storage = buildGcsStorage({ apiEndpoint: proxy.url, projectId: 'test', credentials: gcs.serviceAccount });
    const driver = new GcsDriver({ storage, bucket: gcs.bucket, prefix: 'env-c', chunkSize: CHUNK, parallelParts: 1 });
    t.teardown(() => driver.close());
    const SIZE = 3 * CHUNK + 99;
    const k = key();
    await t.rejects(driver.write({ key: k, body: patternStream(SIZE, { chunkSize: 64 * 1024 }), maxBytes: SIZE, meta: META, signal }), { code: 'storage_error' });
    t.equal(proxy.flipped(), 1, 'one byte was changed');
    // GCS checks the X-Goog-Hash of the last chunk against the bytes it holds: it answers 400 and never finalizes.
    t.equal(proxy.chunkAnswers.at(-1), stripHash ? 200 : 400, stripHash ? 'without the header GCS finalized the changed bytes' : 'GCS refused the last chunk');
    await t.rejects(driver.head(k), { code: 'not_found' }, 'nothing at the key');
    await until(() => gcs.leftovers().length === 0, 'no session, no staging object');
    t.same(gcs.leftovers(), []);
  });
}
