// objects.compose on the project's GCS test server, through the real @google-cloud/storage
// client: Bucket.combine (what the client offers) and File.request on …/compose (how
// blobgate sends a compose that carries custom metadata, src/storage/gcs/gcs-compose.ts).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Storage } from '@google-cloud/storage';
import { startGcsServer } from '../../support/servers/gcs/server.js';
import { crc32cBase64 } from '../../support/servers/gcs/crc32c.js';
import { bypassProxyForLoopback, raw, sha256, statusOf } from './util.js';

delete process.env.STORAGE_EMULATOR_HOST; // the client must use apiEndpoint below
bypassProxyForLoopback();

const server = await startGcsServer();
t.teardown(() => server.stop());
const BUCKET = 'compose-bucket';
server.createBucket(BUCKET);
// validation on every download: the client checks the composite's crc32c against the bytes.
const storage = new Storage({ apiEndpoint: server.url, projectId: 'test' });
const bucket = storage.bucket(BUCKET);

async function put(name: string, data: Buffer): Promise<string> {
  const file = bucket.file(name);
  await file.save(data, { resumable: false });
  return String(file.metadata.generation);
}

const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);

t.test('Bucket.combine: the bytes in order, crc32c of the whole, no md5, componentCount, sources kept', async (t) => {
  const parts = [randomBytes(300_001), randomBytes(1), randomBytes(262_144), randomBytes(77)];
  for (const [i, p] of parts.entries()) await put(`c/part-${i}`, p);
  const [dest] = await bucket.combine(parts.map((_, i) => `c/part-${i}`), 'c/whole.bin');
  const whole = Buffer.concat(parts);
  const [md] = await dest.getMetadata();
  t.equal(md.size, String(whole.length));
  t.equal(md.crc32c, crc32cBase64(whole), 'the crc32c is that of the concatenated bytes');
  t.equal(md.md5Hash, undefined, 'a composite object has no md5');
  t.equal(md.componentCount, 4);
  t.equal(md.contentType, 'application/octet-stream');
  const [bytes] = await dest.download({ validation: 'crc32c' }); // the client checks x-goog-hash against the bytes
  t.equal(sha256(bytes), sha256(whole));
  const r = await raw(`${server.url}/storage/v1/b/${BUCKET}/o/${encodeURIComponent('c/whole.bin')}?alt=media`);
  t.equal(r.headers.get('x-goog-hash'), `crc32c=${crc32cBase64(whole)}`);
  for (const i of parts.keys()) t.ok((await bucket.file(`c/part-${i}`).exists())[0], `source ${i} is kept`);

  // A composite of composites counts their components.
  await put('c/tail', randomBytes(10));
  const [again] = await bucket.combine(['c/whole.bin', 'c/tail'], 'c/again.bin');
  const [md2] = await again.getMetadata();
  t.equal(md2.componentCount, 5);
  t.equal(md2.crc32c, crc32cBase64(Buffer.concat([whole, (await bucket.file('c/tail').download())[0]])));
});

t.test('File.request …/compose: destination fields and custom metadata, pinned source generations', async (t) => {
  const a = randomBytes(1000);
  const b = randomBytes(2000);
  const genA = await put('m/a', a);
  const genB = await put('m/b', b);
  const dest = bucket.file('m/out');
  const [resource] = await dest.request({
    method: 'POST',
    uri: '/compose',
    json: {
      destination: { contentType: 'text/csv', metadata: { 'bg-sha256': 'abc', n: '1' } },
      sourceObjects: [{ name: 'm/a', generation: Number(genA) }, { name: 'm/b', objectPreconditions: { ifGenerationMatch: genB } }],
    },
    qs: { ifGenerationMatch: 0 },
  });
  t.equal((resource as { name?: string }).name, 'm/out');
  const [md] = await dest.getMetadata();
  t.equal(md.contentType, 'text/csv');
  t.same(md.metadata, { 'bg-sha256': 'abc', n: '1' }, 'the destination metadata, nothing taken from the sources');
  t.equal(sha256((await dest.download({ validation: 'crc32c' }))[0]), sha256(Buffer.concat([a, b])));

  const compose = (sourceObjects: unknown[], qs: Record<string, unknown> = {}): Promise<unknown> =>
    failure(dest.request({ method: 'POST', uri: '/compose', json: { sourceObjects }, qs }));
  t.equal(statusOf(await compose([{ name: 'm/a' }], { ifGenerationMatch: 0 })), 412, 'ifGenerationMatch=0 on an existing destination');
  t.equal(statusOf(await compose([{ name: 'm/a', generation: Number(genA) + 1 }])), 404, 'a source not at the generation given');
  t.equal(statusOf(await compose([{ name: 'm/a', objectPreconditions: { ifGenerationMatch: Number(genA) + 1 } }])), 412, 'a source failing its precondition');
  t.equal(statusOf(await compose([{ name: 'm/missing' }])), 404, 'a missing source');
  t.equal(statusOf(await compose([])), 400, 'no source');
  const [after] = await dest.getMetadata();
  t.equal(after.generation, md.generation, 'no failed compose replaced the destination');
});

t.test('32 sources per request, 1024 components per object', async (t) => {
  await put('l/one', Buffer.from('x'));
  const err = await failure(bucket.combine(Array.from({ length: 33 }, () => 'l/one'), 'l/too-many'));
  t.equal(statusOf(err), 400, '33 sources');
  t.match(String((err as Error).message), /exceeds the maximum \(32\)/);
  const [of32] = await bucket.combine(Array.from({ length: 32 }, () => 'l/one'), 'l/32');
  t.equal((await of32.getMetadata())[0].componentCount, 32);
  const [of1024] = await bucket.combine(Array.from({ length: 32 }, () => 'l/32'), 'l/1024');
  t.equal((await of1024.getMetadata())[0].componentCount, 1024);
  t.equal((await of1024.download())[0].toString(), 'x'.repeat(1024));
  t.equal(statusOf(await failure(bucket.combine(['l/1024', 'l/one'], 'l/1025'))), 400, 'a 1025th component');
  t.equal((await bucket.file('l/1025').exists())[0], false);
});

// Under the client's default RetryConditional a compose is retried only with ifGenerationMatch
// (bucket.js combine: maxRetries 0 otherwise); blobgate's RetryAlways retries every one (client.ts).
t.test('a compose fault: the request is not carried out, the client retries it', async (t) => {
  await put('f/a', Buffer.from('hello '));
  await put('f/b', Buffer.from('world'));
  const fault = server.fail('compose', 503);
  const [dest] = await bucket.combine(['f/a', 'f/b'], 'f/ab', { ifGenerationMatch: 0 });
  t.equal(fault.hits, 1, 'the first compose got the 503');
  t.equal((await dest.download())[0].toString(), 'hello world');
});
