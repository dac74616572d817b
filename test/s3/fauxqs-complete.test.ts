// The S3 test harness completes a multipart upload without copying it
// (support/servers/s3/fauxqs.ts, completeWithoutCopy): the object's ETag is
// S3's multipart ETag of its parts, its bytes (whole and a range across parts)
// are the parts' in order, and a request fauxqs would refuse is still
// refused with fauxqs's own error.
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { testClient } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';

const md5 = (b: Uint8Array): Buffer => createHash('md5').update(b).digest();
const PART = 5 * 1024 * 1024;

t.test('a completed multipart upload: multipart ETag, the parts in order, ranges across them', async (t) => {
  const server = await startS3Server();
  t.teardown(() => server.stop());
  server.createBucket('bg-complete');
  const client = testClient(server.endpoint);
  t.teardown(() => client.destroy());
  const Bucket = 'bg-complete';
  const Key = 'a/b.bin';
  const bodies = [randomBytes(PART), randomBytes(PART), randomBytes(12_345)];
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/x-test', Metadata: { k: 'v' } }));
  const parts = [];
  for (const [i, Body] of bodies.entries()) {
    const out = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }));
    parts.push({ PartNumber: i + 1, ETag: out.ETag! });
  }
  const bad = client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [parts[1]!, parts[0]!] } }));
  await t.rejects(bad, { name: 'InvalidPartOrder' }, "parts out of order: fauxqs's own refusal");
  const done = await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
  const expected = `"${createHash('md5').update(Buffer.concat(bodies.map(md5))).digest('hex')}-3"`;
  t.equal(done.ETag, expected, "S3's multipart ETag: the MD5 of the parts' MD5s, and their count");
  const head = await client.send(new HeadObjectCommand({ Bucket, Key }));
  t.same([head.ContentLength, head.ContentType, head.Metadata, head.ETag], [2 * PART + 12_345, 'application/x-test', { k: 'v' }, expected]);
  const whole = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToByteArray());
  t.ok(whole.equals(Buffer.concat(bodies)), 'the bytes are the parts in order');
  const range = await client.send(new GetObjectCommand({ Bucket, Key, Range: `bytes=${PART - 10}-${PART + 9}` }));
  t.ok(Buffer.from(await range.Body!.transformToByteArray()).equals(Buffer.concat(bodies).subarray(PART - 10, PART + 10)), 'a range across two parts');
});
