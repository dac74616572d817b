import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import t from 'tap';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';

// The S3 harness enforces conditional writes, which fauxqs 1.9.2 ignores
// (support/servers/s3/conditional.ts): what the records of an S3 store rely on.
const bucket = 'bg-conditional';

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return '200';
  } catch (err) {
    if (err instanceof S3ServiceException) return `${err.$metadata.httpStatusCode} ${err.name}`;
    throw err;
  }
}

t.test('conditional writes through the SigV4-verifying proxy', async (t) => {
  const s3 = await startProxiedS3(bucket);
  t.teardown(() => s3.stop());
  const client = s3.client();
  const other = s3.client(); // a second replica's client
  t.teardown(() => {
    client.destroy();
    other.destroy();
  });
  const read = async (key: string) => {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray()).toString();
  };

  t.test('a second If-None-Match: * PutObject is 412 PreconditionFailed and leaves the first body', async (t) => {
    const put = (body: string) => client.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/once', Body: body, IfNoneMatch: '*' }));
    t.equal(await outcome(put('first')), '200');
    t.equal(await outcome(put('second')), '412 PreconditionFailed');
    t.equal(await read('a/once'), 'first');
  });

  t.test('the raw answer is S3\'s XML error', async (t) => {
    // Straight to fauxqs (which checks no signature): the bytes the harness answers with.
    const url = `${s3.server.endpoint}/${bucket}/a/raw`;
    const first = await fetch(url, { method: 'PUT', body: 'one', headers: { 'if-none-match': '*' } });
    t.equal(first.status, 200);
    await first.arrayBuffer();
    const second = await fetch(url, { method: 'PUT', body: 'two', headers: { 'if-none-match': '*' } });
    t.equal(second.status, 412);
    t.match(second.headers.get('content-type'), /application\/xml/);
    t.match(await second.text(), /<Error><Code>PreconditionFailed<\/Code>/);
    const bad = await fetch(url, { method: 'PUT', body: 'x', headers: { 'if-none-match': '"abc"' } });
    t.equal(bad.status, 501, 'If-None-Match takes only *');
    await bad.arrayBuffer();
  });

  t.test('16 concurrent creates of one key from two clients: exactly one 200', async (t) => {
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        outcome((i % 2 ? other : client).send(new PutObjectCommand({ Bucket: bucket, Key: 'a/race', Body: `writer ${i}`, IfNoneMatch: '*' }))).then((o) => ({ i, o })),
      ),
    );
    const winners = results.filter((r) => r.o === '200');
    t.equal(winners.length, 1, 'one winner');
    t.same(new Set(results.filter((r) => r.o !== '200').map((r) => r.o)), new Set(['412 PreconditionFailed']), 'every other one is 412');
    t.equal(await read('a/race'), `writer ${winners[0]?.i}`, "the winner's body is stored");
  });

  t.test('If-Match: absent is 404 NoSuchKey, another ETag 412, the current ETag replaces', async (t) => {
    const first = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/cas', Body: 'v1' }));
    t.equal(await outcome(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/none', Body: 'x', IfMatch: first.ETag }))), '404 NoSuchKey');
    t.equal(await outcome(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/cas', Body: 'x', IfMatch: '"0123"' }))), '412 PreconditionFailed');
    t.equal(await outcome(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/cas', Body: 'v2', IfMatch: first.ETag }))), '200');
    t.equal(await read('a/cas'), 'v2');
  });

  t.test('CompleteMultipartUpload with If-None-Match: * over an object is 412', async (t) => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/mpu', Body: 'existing' }));
    const complete = async (key: string) => {
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const part = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: 'parted' }));
      const result = await outcome(
        client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, IfNoneMatch: '*', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } })),
      );
      if (result !== '200') await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
      return result;
    };
    t.equal(await complete('a/mpu'), '412 PreconditionFailed');
    t.equal(await read('a/mpu'), 'existing');
    t.equal(await complete('a/mpu-new'), '200', 'absent: completes');
    t.equal(await read('a/mpu-new'), 'parted');
  });

  t.test('the proxy refused nothing', async (t) => {
    t.same([...s3.proxy.rejected], []);
  });
});
