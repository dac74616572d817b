import t, { type Test } from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { patternStream } from '../helpers/bytes.js';
import { TEST_CREDENTIALS, listedKeys, listedUploads } from '../../support/servers/s3/clients.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';

// Ordinary API calls with wrong credentials, through the verifying proxy:
// every driver method rejects with storage_error, keeps the SDK error as
// cause, and says nothing of the backend's reason in its message.

const bucket = 'bg-creds';
const env = await startProxiedS3(bucket);
t.teardown(() => env.stop());
const good = new S3Driver({ client: env.client(), bucket, partSize: MIN_PART_SIZE });
t.teardown(() => good.close());
const META: ObjectMetaInit = { contentType: 'text/plain', tier: 'retained', createdAt: '2026-11-22T10:00:00.000Z' };
const existing = 'workspaces/ws-1/existing.txt';
await good.write({ key: existing, body: patternStream(100), maxBytes: 100, meta: META, signal: new AbortController().signal });

const BACKEND_TEXT = /signature|SignatureDoesNotMatch|InvalidAccessKeyId|Access Key|calculated|AKID|Forbidden|403/i;

/** causeName undefined: a HEAD answer, which has no body, so the SDK cannot know the S3 error code. */
async function assertStorageError(t: Test, p: Promise<unknown>, causeName: string | undefined, what: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.match(err, { name: 'BlobgateError', code: 'storage_error', status: 502 }, `${what}: storage_error`);
  t.match((err as Error).cause, { ...(causeName ? { name: causeName } : {}), $metadata: { httpStatusCode: 403 } }, `${what}: the SDK error is the cause`);
  t.notMatch((err as Error).message, BACKEND_TEXT, `${what}: no backend text in the message`);
}

for (const [label, credentials, causeName] of [
  ['wrong secret', { accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong-secret' }, 'SignatureDoesNotMatch'],
  ['unknown access key', { accessKeyId: 'AKIDNOBODY', secretAccessKey: 'whatever' }, 'InvalidAccessKeyId'],
] as const) {
  t.test(`${label}: every call fails as storage_error and nothing is stored`, async (t) => {
    const bad = new S3Driver({ client: env.client(credentials), bucket, partSize: MIN_PART_SIZE });
    t.teardown(() => bad.close());
    const signal = new AbortController().signal;
    await assertStorageError(t, bad.write({ key: 'workspaces/ws-1/small', body: patternStream(10), maxBytes: 10, meta: META, signal }), causeName, 'write (PutObject)');
    await assertStorageError(t, bad.write({ key: 'workspaces/ws-1/big', body: patternStream(11 * 1024 * 1024), maxBytes: 1 << 30, meta: META, signal }), causeName, 'write (multipart)');
    await assertStorageError(t, bad.read(existing), causeName, 'read');
    await assertStorageError(t, bad.read(existing, { start: 0, end: 9 }), undefined, 'ranged read (HEAD first: a 403 without body)');
    await assertStorageError(t, bad.head(existing), undefined, 'head');
    await assertStorageError(t, bad.list({ prefix: 'workspaces/', limit: 10 }), causeName, 'list');
    await assertStorageError(t, bad.delete(existing), causeName, 'delete');
    await assertStorageError(t, bad.ping(), undefined, 'ping');
    t.same(await listedKeys(env.direct, bucket), [existing], 'fauxqs holds only the object written with good credentials');
    t.same(await listedUploads(env.direct, bucket), [], 'no multipart upload');
    t.ok((env.proxy.rejected.get(causeName) ?? 0) >= 6, 'refused by the proxy');
  });
}

t.test('control: the same calls with the right credentials succeed', async (t) => {
  t.equal((await good.head(existing)).meta.size, 100);
  await good.ping();
  t.same((await good.list({ prefix: 'workspaces/', limit: 10 })).items.map((i) => i.key), [existing]);
});
