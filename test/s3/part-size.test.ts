import t from 'tap';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { DEFAULT_PART_SIZE, DEFAULT_QUEUE_SIZE, MAX_PARTS, MAX_PART_SIZE, MIN_PART_SIZE, effectivePartSize } from '../../src/storage/s3/s3-write.js';
import { testClient } from '../../support/servers/s3/clients.js';

// Part sizing: at least 5 MiB, the configured size otherwise, raised so the
// largest body a write may carry fits in 10,000 parts.

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

t.test('defaults and S3 limits', async (t) => {
  t.equal(DEFAULT_PART_SIZE, 8 * MiB);
  t.equal(DEFAULT_QUEUE_SIZE, 4);
  t.equal(MIN_PART_SIZE, 5 * MiB);
  t.equal(MAX_PARTS, 10_000);
});

t.test('effectivePartSize', async (t) => {
  t.equal(effectivePartSize(8 * MiB, 4 * GiB), 8 * MiB, 'the 4 GiB ephemeral cap fits in 8 MiB parts (512)');
  t.equal(effectivePartSize(5 * MiB, 4 * GiB), 5 * MiB, 'and in 5 MiB parts (820)');
  t.equal(effectivePartSize(8 * MiB, 200 * GiB, 100 * GiB), Math.ceil((100 * GiB) / 10_000), 'raised for a 100 GiB announced size');
  t.equal(effectivePartSize(8 * MiB, 200 * GiB), Math.ceil((200 * GiB) / 10_000), 'without a size hint the cap bounds the body');
  t.equal(effectivePartSize(8 * MiB, 200 * GiB, 10), 8 * MiB, 'a small announced size keeps the configured size');
  t.equal(effectivePartSize(8 * MiB, 10, 100 * GiB), 8 * MiB, 'an announced size over the cap is bounded by the cap');
  t.equal(effectivePartSize(1, 1), MIN_PART_SIZE, 'never under the S3 minimum');
  t.equal(effectivePartSize(8 * MiB, Number.MAX_SAFE_INTEGER), MAX_PART_SIZE, 'never over the S3 maximum');
});

t.test('the driver refuses part sizes S3 would refuse', async (t) => {
  const client = testClient('http://127.0.0.1:9');
  t.teardown(() => client.destroy());
  t.throws(() => new S3Driver({ client, bucket: 'b', partSize: 5 * MiB - 1 }), RangeError);
  t.throws(() => new S3Driver({ client, bucket: 'b', partSize: 6 * GiB }), RangeError);
  t.throws(() => new S3Driver({ client, bucket: 'b', queueSize: 0 }), RangeError);
  t.throws(() => new S3Driver({ client, bucket: '' }), RangeError);
  const d = new S3Driver({ client, bucket: 'b' });
  t.equal(d.backend, 's3');
  t.equal(d.bucket, 'b');
});
