import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { TEST_CREDENTIALS } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';
import { startGcs } from '../gcs/harness.js';
import { startGateway } from '../helpers/gateway.js';

// GET /v1/workspaces/:ws/resources wraps each store's list() cursor in its
// own. That inner cursor was the store's page token (S3 ContinuationToken,
// GCS pageToken) handed to the store as the caller sent it: a crafted one was
// S3's or GCS's 400, answered as a 502 storage_error. It is now blobgate's own
// on every store (src/storage/list-cursor.ts), and one the API never returned
// is 400 invalid_request before any store call. The test servers say when a
// listing reaches them: fauxqs through an armed ListObjects fault (its hits),
// the GCS server through its request count. All three stores in one gateway,
// as one listing walks them in turn.

const s3 = await startS3Server();
t.teardown(() => s3.stop());
s3.createBucket('bg-cursor');
process.env.BG_TEST_S3_KEY = TEST_CREDENTIALS.accessKeyId;
process.env.BG_TEST_S3_SECRET = TEST_CREDENTIALS.secretAccessKey;
const gcs = await startGcs(t, 'bg-cursor');
const keyDir = await mkdtemp(join(tmpdir(), 'bg-cursor-key-'));
t.teardown(() => rm(keyDir, { recursive: true, force: true }));
const keyFile = join(keyDir, 'sa.json');
await writeFile(keyFile, JSON.stringify(gcs.serviceAccount), { mode: 0o600 });

const gw = await startGateway({
  stores: {
    disk: { driver: 'local', prefix: 'env-a' },
    s3: {
      driver: 's3',
      bucket: 'bg-cursor',
      region: 'us-east-1',
      endpoint: s3.endpoint,
      'force-path-style': true,
      prefix: 'env-a',
      credentials: { 'access-key-id': 'env:BG_TEST_S3_KEY', 'secret-access-key': 'env:BG_TEST_S3_SECRET' },
    },
    gcs: { driver: 'gcs', bucket: gcs.bucket, 'project-id': 'test', 'api-endpoint': gcs.server.url, prefix: 'env-a', credentials: `file:${keyFile}` },
  },
  tiers: { retained: { store: 'disk' }, ephemeral: { store: 's3' } },
});
t.teardown(() => gw.close());

const names = gw.stores.entries().map(([name]) => name);
const b64 = (v: string): string => Buffer.from(v, 'utf8').toString('base64url');
const outer = (p: unknown): string => b64(JSON.stringify(p));
const list = (query: string) => gw.call('GET', `/v1/workspaces/ws-1/resources?${query}`);

// Two objects per store in ws-1, one in ws-2 (whose key a crafted cursor names).
const now = new Date().toISOString();
for (const [name, driver] of gw.stores.entries()) {
  for (const key of [`workspaces/ws-1/cur/${name}-a`, `workspaces/ws-1/cur/${name}-b`, `workspaces/ws-2/cur/${name}-a`]) {
    await driver.write({ key, body: Readable.from([Buffer.from(key)]), maxBytes: 1024, signal: new AbortController().signal, meta: { contentType: 'text/plain', tier: 'retained', createdAt: now } });
  }
}

/** Runs `fn` with every store listing watched: how many listings reached S3 and GCS meanwhile. */
async function storeListings(fn: () => Promise<void>): Promise<number> {
  const s3Lists = s3.fail('ListObjects', 500, { times: 1_000 });
  const gcsBefore = gcs.server.requestCount('list');
  try {
    await fn();
  } finally {
    s3.clearFaults();
  }
  return s3Lists.hits + gcs.server.requestCount('list') - gcsBefore;
}

t.test('the watch sees a listing that reaches S3 and GCS', async (t) => {
  for (const backend of ['s3', 'gcs']) {
    const reached = await storeListings(async () => void (await list(`path-prefix=cur/&storage-backend=${backend}`)));
    t.ok(reached > 0, `${backend}: ${reached} listing request(s) seen`);
  }
});

t.test('pages of one item walk every store in key order with blobgate cursors', async (t) => {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const res = await list(`path-prefix=cur/&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    t.equal(res.status, 200, JSON.stringify(res.json).slice(0, 200));
    seen.push(...res.json.items.map((i: { path: string }) => i.path));
    cursor = res.json.cursor;
    if (!cursor) break;
    const inner = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s: number; c?: string };
    if (inner.c !== undefined) t.match(Buffer.from(inner.c, 'base64url').toString('utf8'), /^workspaces\/ws-1\/cur\//, 'the store cursor is the last key listed');
  }
  t.same(seen, names.flatMap((n) => [`workspaces/ws-1/cur/${n}-a`, `workspaces/ws-1/cur/${n}-b`]));
});

t.test('a store cursor the API never returned is 400 invalid_request on every store, before any store call', async (t) => {
  const crafted: Array<[string, string]> = [
    ['garbage', 'garbage'],
    ['a GCS page token', b64(JSON.stringify({ k: 'env-a/workspaces/ws-1/cur/x', p: false }))],
    ["another workspace's key", b64('workspaces/ws-2/cur/a')],
    ['a key outside path-prefix', b64('workspaces/ws-1/other/a')],
    ['not canonical', `${b64('workspaces/ws-1/cur/s3-a')}=`],
    ['a control character', b64('workspaces/ws-1/cur/a\nb')],
    ['longer than any key', b64(`workspaces/ws-1/cur/${'x'.repeat(1100)}`)],
  ];
  for (const [s, name] of names.entries()) {
    for (const [what, c] of crafted) {
      let res: Awaited<ReturnType<typeof list>> | undefined;
      const reached = await storeListings(async () => {
        res = await list(`path-prefix=cur/&cursor=${encodeURIComponent(outer({ s, c }))}`);
      });
      t.equal(res?.status, 400, `${name}, ${what}: ${JSON.stringify(res?.json)}`);
      t.match(res?.json.error, { code: 'invalid_request', details: { field: 'cursor' }, message: 'cursor is not one this API returned; start again without it.' }, `${name}, ${what}`);
      t.notOk(JSON.stringify(res?.json).includes('stack'), 'no stack');
      t.equal(reached, 0, `${name}, ${what}: no listing reached a store`);
    }
  }
});

t.test('a cursor of another path-prefix is refused, not followed', async (t) => {
  const first = await list('path-prefix=cur/&limit=1');
  t.ok(first.json.cursor, 'a first page with a cursor');
  const other = await list(`path-prefix=elsewhere/&limit=1&cursor=${encodeURIComponent(first.json.cursor)}`);
  t.equal(other.status, 400);
  t.equal(other.json.error.code, 'invalid_request');
});

t.test('a listing cursor that does not decode as one the API made is 400 invalid_request', async (t) => {
  const good = b64('workspaces/ws-1/cur/disk-a');
  const cases: Array<[string, string]> = [
    ['past the last store', outer({ s: names.length })],
    ['a negative store', outer({ s: -1 })],
    ['an extra field', outer({ s: 0, c: good, x: 1 })],
    ['an empty store cursor', outer({ s: 0, c: '' })],
    ['a store cursor that is no string', outer({ s: 0, c: 7 })],
    ['padded', `${outer({ s: 0, c: good })}=`],
    ['not JSON', b64('{"s":0')],
  ];
  for (const [what, cursor] of cases) {
    let res: Awaited<ReturnType<typeof list>> | undefined;
    const reached = await storeListings(async () => {
      res = await list(`path-prefix=cur/&cursor=${encodeURIComponent(cursor)}`);
    });
    t.equal(res?.status, 400, `${what}: ${JSON.stringify(res?.json)}`);
    t.match(res?.json.error, { code: 'invalid_request', details: { field: 'cursor' } }, what);
    t.equal(reached, 0, `${what}: no listing reached a store`);
  }
  const ok = await list(`path-prefix=cur/&cursor=${encodeURIComponent(outer({ s: 0, c: good }))}`);
  t.equal(ok.status, 200, 'a well-made cursor is followed');
  t.equal(ok.json.items[0]?.path, 'workspaces/ws-1/cur/disk-b', 'and goes on after its key');
});

t.test('search (q) takes the same cursor and refuses a crafted one', async (t) => {
  const s = names.indexOf('gcs');
  const res = await list(`q=cur&cursor=${encodeURIComponent(outer({ s, c: 'garbage' }))}`);
  t.equal(res.status, 400, JSON.stringify(res.json));
  t.equal(res.json.error.code, 'invalid_request');
});
