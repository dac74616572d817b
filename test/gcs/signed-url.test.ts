// V4 signed URLs from the driver, verified by the test server against the
// public half of a service-account key generated at test time.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { patternChunk, patternStream, sha256 } from '../helpers/bytes.js';
import { sleep, startGcs } from './harness.js';

const gcs = await startGcs(t);
const driver = gcs.driver({ prefix: 'env-s' });
const SIZE = 70_000;
const data = patternChunk(0, SIZE);
const key = `workspaces/ws-s/${randomUUID()}/dir/report 1+€.bin`;
await driver.write({
  key,
  body: patternStream(SIZE),
  maxBytes: SIZE,
  meta: { contentType: 'application/x-report', tier: 'retained', createdAt: '2026-11-22T10:00:00.000Z' },
  signal: new AbortController().signal,
});

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

t.test('a valid URL serves the object', async (t) => {
  const url = await driver.signUrl({ key, expiresInSeconds: 300 });
  const u = new URL(url);
  t.equal(u.origin, gcs.server.url, 'served by the store itself');
  t.equal(decodeURIComponent(u.pathname), `/${gcs.bucket}/env-s/${key}`, 'the physical name, store prefix applied');
  t.equal(u.searchParams.get('X-Goog-Algorithm'), 'GOOG4-RSA-SHA256');
  t.equal(u.searchParams.get('X-Goog-Expires'), '300');
  t.match(u.searchParams.get('X-Goog-Credential'), /^blobgate-test@test\.iam\.gserviceaccount\.com\//);
  const r = await get(url);
  t.equal(r.status, 200);
  t.equal(r.headers.get('content-type'), 'application/x-report');
  t.equal(r.body.length, SIZE);
  t.equal(sha256(r.body), sha256(data), 'the stored bytes');
  t.equal(r.headers.get('content-disposition'), null, 'no disposition unless asked for');
});

t.test('Range works on a signed URL', async (t) => {
  const url = await driver.signUrl({ key, expiresInSeconds: 300 });
  const r = await get(url, { Range: 'bytes=1000-1999' });
  t.equal(r.status, 206);
  t.equal(r.headers.get('content-range'), `bytes 1000-1999/${SIZE}`);
  t.same(r.body, data.subarray(1000, 2000));
  const tail = await get(url, { Range: 'bytes=-10' });
  t.equal(tail.status, 206);
  t.same(tail.body, data.subarray(SIZE - 10));
});

t.test('a tampered URL is refused with 403', async (t) => {
  const url = await driver.signUrl({ key, expiresInSeconds: 300 });
  const u = new URL(url);
  const sig = u.searchParams.get('X-Goog-Signature') ?? '';
  const tampered = {
    signature: url.replace(sig, `${sig[0] === 'a' ? 'b' : 'a'}${sig.slice(1)}`),
    path: url.replace(encodeURIComponent('1+€.bin').replace(/\+/g, '%2B'), 'other.bin'),
    expires: url.replace('X-Goog-Expires=300', 'X-Goog-Expires=3000'),
  };
  for (const [what, bad] of Object.entries(tampered)) {
    t.not(bad, url, `${what} changed`);
    const r = await get(bad);
    t.equal(r.status, 403, `tampered ${what}`);
    t.match(r.body.toString(), '<Code>SignatureDoesNotMatch</Code>');
    t.not(sha256(r.body), sha256(data), 'no object bytes');
  }
  const unsigned = await get(`${u.origin}${u.pathname}`);
  t.equal(unsigned.status, 403, 'no signature, no access');
});

t.test('download: true → Content-Disposition attachment (signed, so it cannot be altered)', async (t) => {
  const url = await driver.signUrl({ key, expiresInSeconds: 300, download: true });
  const r = await get(url);
  t.equal(r.status, 200);
  t.equal(r.headers.get('content-disposition'), `attachment; filename="report 1+_.bin"; filename*=UTF-8''report%201%2B%E2%82%AC.bin`);
  t.equal(sha256(r.body), sha256(data));
  const named = await driver.signUrl({ key, expiresInSeconds: 300, download: true, filename: 'q3.bin' });
  t.equal((await get(named)).headers.get('content-disposition'), `attachment; filename="q3.bin"; filename*=UTF-8''q3.bin`);
  const inline = await get(url.replace('attachment', 'inline'));
  t.equal(inline.status, 403, 'changing the disposition breaks the signature');
});

t.test('an expired URL is refused', async (t) => {
  const url = await driver.signUrl({ key, expiresInSeconds: 1 });
  await sleep(1300);
  const r = await get(url);
  t.equal(r.status, 400, 'GCS answers expired V4 URLs with 400 ExpiredToken');
  t.match(r.body.toString(), '<Code>ExpiredToken</Code>');
  t.not(sha256(r.body), sha256(data));
});
