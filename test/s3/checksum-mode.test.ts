import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import type { S3ChecksumMode } from '../../src/storage/s3/client.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { patternSha256, patternStream, sha256OfStream } from '../helpers/bytes.js';
import { recordRequests, testClient } from '../../support/servers/s3/clients.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';

// checksumMode reaches the SDK: `when-required` sends no flexible checksums
// (for S3-compatible stores that reject them) and still writes and reads
// byte-identically; `when-supported` sends CRC32 checksums.

const bucket = 'bg-checksum';
const env = await startProxiedS3(bucket);
t.teardown(() => env.stop());
const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'retained', createdAt: '2026-11-22T10:00:00.000Z' };
const CHECKSUM_HEADER = /^x-amz-(checksum-|sdk-checksum-algorithm)/;

for (const mode of ['when-required', 'when-supported'] as const satisfies readonly S3ChecksumMode[]) {
  t.test(`checksumMode ${mode}: put and get, single part and multipart`, async (t) => {
    const client = testClient(env.proxy.endpoint, { checksumMode: mode });
    const sent = recordRequests(client);
    const driver = new S3Driver({ client, bucket, prefix: mode, partSize: MIN_PART_SIZE });
    t.teardown(() => driver.close());
    const signal = new AbortController().signal;
    for (const size of [1000, MIN_PART_SIZE + 3]) {
      const key = `workspaces/ws-1/${size}.bin`;
      const stored = await driver.write({ key, body: patternStream(size), maxBytes: size, meta: META, signal });
      t.equal(stored.meta.sha256, patternSha256(size));
      t.same(await sha256OfStream((await driver.read(key)).body), { sha256: patternSha256(size), size }, `${size} bytes read back`);
    }
    const uploads = sent.filter((r) => ['PutObject', 'UploadPart', 'CreateMultipartUpload'].includes(r.command));
    t.same([...new Set(uploads.map((r) => r.command))].sort(), ['CreateMultipartUpload', 'PutObject', 'UploadPart']);
    const withChecksums = uploads.filter((r) => Object.keys(r.headers).some((h) => CHECKSUM_HEADER.test(h)));
    const gets = sent.filter((r) => r.command === 'GetObject');
    if (mode === 'when-required') {
      t.same(withChecksums.map((r) => r.command), [], 'no upload request carries a flexible checksum');
      t.ok(gets.every((r) => r.headers['x-amz-checksum-mode'] === undefined), 'GETs do not ask for checksums');
    } else {
      t.same(withChecksums.length, uploads.length, 'every upload request carries a checksum');
      t.ok(gets.every((r) => r.headers['x-amz-checksum-mode'] === 'ENABLED'), 'GETs ask for checksums');
    }
  });
}
