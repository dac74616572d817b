// The test server's rewrite route (added for the driver's staged publish),
// exercised with the real client's File.copy and with plain HTTP.
import t from 'tap';
import { Storage } from '@google-cloud/storage';
import { startGcs } from './harness.js';

const gcs = await startGcs(t);
const storage = new Storage({ apiEndpoint: gcs.server.url, projectId: 'test' });
const bucket = storage.bucket(gcs.bucket);

t.test('File.copy with a destination resource replaces content type and custom metadata', async (t) => {
  const src = bucket.file('rw/src a+b.bin');
  await src.save(Buffer.from('payload'), { resumable: false, metadata: { contentType: 'text/plain', metadata: { old: '1' } } });
  const [srcMd] = await src.getMetadata();
  const [dest] = await src.copy(bucket.file('rw/dest/€.bin'), { contentType: 'application/x-new', metadata: { fresh: 'ü' } });
  const [md] = await dest.getMetadata();
  t.equal(md.contentType, 'application/x-new');
  t.same(md.metadata, { fresh: 'ü' }, 'metadata replaced, not merged');
  t.equal(md.size, '7');
  t.equal(md.crc32c, srcMd.crc32c, 'same bytes, same crc32c');
  t.equal(md.md5Hash, srcMd.md5Hash);
  t.equal(md.metageneration, '1');
  t.not(md.generation, srcMd.generation, 'a new generation');
  t.equal((await dest.download())[0].toString(), 'payload');
  t.equal((await src.download())[0].toString(), 'payload', 'the source stays');
});

t.test('File.copy without a resource copies the source fields', async (t) => {
  const [dest] = await bucket.file('rw/src a+b.bin').copy(bucket.file('rw/plain-copy'));
  const [md] = await dest.getMetadata();
  t.equal(md.contentType, 'text/plain');
  t.same(md.metadata, { old: '1' });
});

t.test('raw rewrite: response shape, preconditions, missing source', async (t) => {
  const base = `${gcs.server.url}/storage/v1/b/${gcs.bucket}/o`;
  const src = encodeURIComponent('rw/src a+b.bin');
  const ok = await fetch(`${base}/${src}/rewriteTo/b/${gcs.bucket}/o/${encodeURIComponent('rw/raw')}`, { method: 'POST' });
  t.equal(ok.status, 200);
  const body = (await ok.json()) as { kind: string; done: boolean; objectSize: string; totalBytesRewritten: string; resource: { name: string } };
  t.match(body, { kind: 'storage#rewriteResponse', done: true, objectSize: '7', totalBytesRewritten: '7', resource: { name: 'rw/raw' } });
  const exists = await fetch(`${base}/${src}/rewriteTo/b/${gcs.bucket}/o/${encodeURIComponent('rw/raw')}?ifGenerationMatch=0`, { method: 'POST' });
  t.equal(exists.status, 412, 'ifGenerationMatch=0 on an existing destination');
  const wrongGen = await fetch(`${base}/${src}/rewriteTo/b/${gcs.bucket}/o/x?sourceGeneration=1`, { method: 'POST' });
  t.equal(wrongGen.status, 404, 'sourceGeneration that is not live');
  const missing = await fetch(`${base}/nope/rewriteTo/b/${gcs.bucket}/o/x`, { method: 'POST' });
  t.equal(missing.status, 404);
  const noBucket = await fetch(`${base}/${src}/rewriteTo/b/bg-none/o/x`, { method: 'POST' });
  t.equal(noBucket.status, 404);
  t.notOk(gcs.server.objectNames(gcs.bucket).includes('x'), 'no failed rewrite created anything');
});
