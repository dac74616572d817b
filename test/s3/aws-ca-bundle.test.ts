import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { collect, patternChunk, patternStream } from '../helpers/bytes.js';
import { testClient } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';

// This machine sets AWS_CA_BUNDLE (docs/testing.md#environment-variables-the-harness-ignores). The JS SDK v3 does not read
// it (unlike v2 and the CLI); a client for a loopback http endpoint must work
// whatever it says, even when it names a file that does not exist.

process.env.AWS_CA_BUNDLE = '/nonexistent/blobgate-test/ca-bundle.pem';

const server = await startS3Server();
t.teardown(() => server.stop());
server.createBucket('bg-ca');
const driver = new S3Driver({ client: testClient(server.endpoint), bucket: 'bg-ca' });
t.teardown(() => driver.close());
const META: ObjectMetaInit = { contentType: 'text/plain', tier: 'retained', createdAt: '2026-11-22T10:00:00.000Z' };

t.test('a bogus AWS_CA_BUNDLE does not break the client', async (t) => {
  t.equal(process.env.AWS_CA_BUNDLE, '/nonexistent/blobgate-test/ca-bundle.pem');
  await driver.ping();
  await driver.write({ key: 'workspaces/ws-1/x', body: patternStream(5000), maxBytes: 5000, meta: META, signal: new AbortController().signal });
  t.same(await collect((await driver.read('workspaces/ws-1/x')).body), patternChunk(0, 5000));
});
