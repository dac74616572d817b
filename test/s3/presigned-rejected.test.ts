import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import t, { type Test } from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { patternStream } from '../helpers/bytes.js';
import { TEST_CREDENTIALS } from '../../support/servers/s3/clients.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';

// Presigned URLs that were tampered with, re-pathed, signed with unknown or
// wrong credentials, or have expired are refused with 403 by the verifying
// proxy, while fauxqs alone would serve them (shown for the re-pathed one).

const bucket = 'bg-presign-bad';
const env = await startProxiedS3(bucket);
t.teardown(() => env.stop());
const driver = new S3Driver({ client: env.client(), bucket });
t.teardown(() => driver.close());
const META: ObjectMetaInit = { contentType: 'text/plain', tier: 'retained', createdAt: '2026-11-22T10:00:00.000Z' };
const key = 'workspaces/ws-1/secret.txt';
const other = 'workspaces/ws-2/other.txt';
for (const k of [key, other]) await driver.write({ key: k, body: patternStream(1000), maxBytes: 1000, meta: META, signal: new AbortController().signal });

async function assertRefused(t: Test, url: URL | string, status: number, code: string, message?: RegExp): Promise<void> {
  const res = await fetch(url);
  t.equal(res.status, status, `status ${status}`);
  t.equal(res.headers.get('content-type'), 'application/xml');
  const body = await res.text();
  t.match(body, `<Code>${code}</Code>`, `S3 error code ${code}`);
  if (message) t.match(body, message);
  t.notMatch(body, /[\x00-\x08]/, 'an XML error document, not object bytes');
}

t.test('control: the untampered URL is served', async (t) => {
  const res = await fetch(await driver.signUrl({ key, expiresInSeconds: 900 }));
  t.equal(res.status, 200);
  t.equal((await res.arrayBuffer()).byteLength, 1000);
});

t.test('a tampered signature is refused', async (t) => {
  const url = new URL(await driver.signUrl({ key, expiresInSeconds: 900 }));
  const sig = url.searchParams.get('X-Amz-Signature') ?? '';
  url.searchParams.set('X-Amz-Signature', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
  await assertRefused(t, url, 403, 'SignatureDoesNotMatch');
});

t.test('a re-pathed URL (another key, same signature) is refused, though fauxqs alone serves it', async (t) => {
  const url = new URL(await driver.signUrl({ key, expiresInSeconds: 900 }));
  url.pathname = `/${bucket}/${other}`;
  await assertRefused(t, url, 403, 'SignatureDoesNotMatch');
  const direct = new URL(url);
  direct.port = String(env.server.port);
  const res = await fetch(direct);
  t.equal(res.status, 200, 'without the proxy the re-pathed URL would leak the other object');
  await res.arrayBuffer();
});

t.test('a lengthened expiry or a changed response override is refused', async (t) => {
  const url = new URL(await driver.signUrl({ key, expiresInSeconds: 60 }));
  url.searchParams.set('X-Amz-Expires', '604800');
  await assertRefused(t, url, 403, 'SignatureDoesNotMatch');
  const dl = new URL(await driver.signUrl({ key, expiresInSeconds: 60, download: true }));
  dl.searchParams.set('response-content-disposition', 'inline');
  await assertRefused(t, dl, 403, 'SignatureDoesNotMatch');
});

t.test('an expired URL is refused', async (t) => {
  const url = await driver.signUrl({ key, expiresInSeconds: 900 });
  t.equal((await fetch(url).then(async (r) => (await r.arrayBuffer(), r.status))), 200, 'valid now');
  env.clockSkew.ms = 901_000; // 15 min + 1 s later
  t.teardown(() => (env.clockSkew.ms = 0));
  await assertRefused(t, url, 403, 'AccessDenied', /Request has expired/);
});

t.test('a URL signed in the past (presigner signingDate) is refused as expired', async (t) => {
  const url = await getSignedUrl(env.client(), new GetObjectCommand({ Bucket: bucket, Key: key }), {
    expiresIn: 60,
    signingDate: new Date(Date.now() - 2 * 60_000),
  });
  await assertRefused(t, url, 403, 'AccessDenied', /Request has expired/);
});

t.test('a URL signed with an unknown access key is refused', async (t) => {
  const stranger = new S3Driver({ client: env.client({ accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'whatever' }), bucket });
  t.teardown(() => stranger.close());
  await assertRefused(t, await stranger.signUrl({ key, expiresInSeconds: 60 }), 403, 'InvalidAccessKeyId');
});

t.test('a URL signed with the wrong secret is refused', async (t) => {
  const impostor = new S3Driver({ client: env.client({ accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' }), bucket });
  t.teardown(() => impostor.close());
  await assertRefused(t, await impostor.signUrl({ key, expiresInSeconds: 60 }), 403, 'SignatureDoesNotMatch');
});

t.test('the proxy counted each refusal', async (t) => {
  t.same(Object.fromEntries(env.proxy.rejected), { SignatureDoesNotMatch: 5, AccessDenied: 2, InvalidAccessKeyId: 1 });
});
