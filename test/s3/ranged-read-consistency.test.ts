import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { collect, patternChunk, patternStream } from '../helpers/bytes.js';
import { onWire, recordRequests, testClient } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';

// A ranged read resolves the range against HeadObject and pins the GET to
// that object with If-Match: an object replaced in between (412) is resolved
// again once; a second mismatch is a storage_error, never bytes of one object
// under the meta of another.

const server = await startS3Server();
t.teardown(() => server.stop());
server.createBucket('bg-range');
const client = testClient(server.endpoint);
const sent = recordRequests(client);
let staleGets = 0;
onWire(client, (req, command) => {
  if (command === 'GetObject' && staleGets > 0) {
    staleGets--;
    req.headers['if-match'] = '"an-older-etag"'; // as if the object changed after the HEAD
  }
});
const driver = new S3Driver({ client, bucket: 'bg-range' });
t.teardown(() => driver.close());
const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'retained', createdAt: '2026-11-22T10:00:00.000Z' };
const key = 'workspaces/ws-1/r';
await driver.write({ key, body: patternStream(1000), maxBytes: 1000, meta: META, signal: new AbortController().signal });

t.test('the GET carries If-Match with the ETag of the HEAD', async (t) => {
  const from = sent.length;
  const r = await driver.read(key, { start: 10, end: 19 });
  t.same(await collect(r.body), patternChunk(10, 10));
  const [head, get] = sent.slice(from);
  t.equal(head?.command, 'HeadObject');
  t.equal(get?.command, 'GetObject');
  t.equal(get?.headers.range, 'bytes=10-19');
  t.match(get?.headers['if-match'] ?? '', /^"[0-9a-f]{32}"$/);
});

t.test('replaced between HEAD and GET once: resolved again', async (t) => {
  staleGets = 1;
  const from = sent.length;
  const r = await driver.read(key, { suffix: 5 });
  t.same(r.range, { start: 995, end: 999 });
  t.same(await collect(r.body), patternChunk(995, 5));
  t.same(sent.slice(from).map((s) => s.command), ['HeadObject', 'GetObject', 'HeadObject', 'GetObject']);
});

t.test('replaced again: storage_error', async (t) => {
  staleGets = 2;
  await t.rejects(driver.read(key, { start: 0 }), { code: 'storage_error', cause: { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } } });
});
