import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { BlobgateError } from '../../src/errors.js';
import { LocalDriver } from '../../src/storage/local/local-driver.js';
import type { WriteRequest } from '../../src/storage/driver.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { localLeftovers } from '../contract/local-leftovers.js';

/*
 * The local store keeps keys as paths (meta/<key>), so `x/a` and `x/a/b`
 * cannot both be objects there, while S3 and GCS take both. Writing the
 * second one is the caller's choice of key: 409 key_conflict naming the
 * keys (it was a 502 storage_error from the failed rename), nothing left
 * behind, the first object intact, and reads of the refused key not_found.
 * A big body (data file) and a small one (inline in the meta) both commit
 * through the same rename, so both are tried.
 */

async function store(t: Test, prefix?: string): Promise<{ root: string; driver: LocalDriver }> {
  const root = await mkdtemp(join(tmpdir(), 'bg-local-conflict-'));
  const driver = await LocalDriver.open({ root, ...(prefix ? { prefix } : {}) });
  t.teardown(async () => {
    await driver.close();
    await rm(root, { recursive: true, force: true });
  });
  return { root, driver };
}

function write(driver: LocalDriver, key: string, size: number): Promise<unknown> {
  const req: WriteRequest = {
    key,
    body: Readable.from([Buffer.alloc(size, 7)]),
    maxBytes: 1 << 30,
    meta: { contentType: 'application/octet-stream', tier: 'retained', createdAt: new Date().toISOString() },
    signal: new AbortController().signal,
  };
  return driver.write(req);
}

async function refusal(t: Test, p: Promise<unknown>): Promise<BlobgateError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof BlobgateError, 'a BlobgateError');
  return err as BlobgateError;
}

for (const [label, size] of [['small', 10], ['large', 200_000]] as const) {
  for (const prefix of [undefined, 'env-a/']) {
    t.test(`${label} body${prefix ? ', store prefix' : ''}: a key that is the folder of other keys is key_conflict`, async (t) => {
      const { root, driver } = await store(t, prefix);
      await write(driver, 'workspaces/ws-1/x/a/b', size);
      const err = await refusal(t, write(driver, 'workspaces/ws-1/x/a', size));
      t.match(err, { code: 'key_conflict', status: 409, details: { key: 'workspaces/ws-1/x/a', below: 'workspaces/ws-1/x/a/' } });
      t.match(err.message, /Cannot store workspaces\/ws-1\/x\/a: other objects are stored below it .*Choose another path or filename/);
      t.notMatch(err.message, /env-a|EISDIR|meta\//, 'no store prefix, errno or file path');
      t.equal((await driver.head('workspaces/ws-1/x/a/b')).meta.size, size, 'the object below is intact');
      await t.rejects(driver.head('workspaces/ws-1/x/a'), { code: 'not_found' });
      await t.rejects(driver.read('workspaces/ws-1/x/a'), { code: 'not_found' });
      t.same(await localLeftovers(root), [], 'nothing left behind');
    });

    t.test(`${label} body${prefix ? ', store prefix' : ''}: a key below another key is key_conflict naming that key`, async (t) => {
      const { root, driver } = await store(t, prefix);
      await write(driver, 'workspaces/ws-1/x/a', size);
      const err = await refusal(t, write(driver, 'workspaces/ws-1/x/a/b/c', size));
      t.match(err, { code: 'key_conflict', status: 409, details: { key: 'workspaces/ws-1/x/a/b/c', object: 'workspaces/ws-1/x/a' } });
      t.match(err.message, /Cannot store workspaces\/ws-1\/x\/a\/b\/c: workspaces\/ws-1\/x\/a is an object .*delete workspaces\/ws-1\/x\/a first/);
      t.equal((await driver.head('workspaces/ws-1/x/a')).meta.size, size, 'the object above is intact');
      await t.rejects(driver.head('workspaces/ws-1/x/a/b/c'), { code: 'not_found' });
      await t.rejects(driver.read('workspaces/ws-1/x/a/b'), { code: 'not_found' });
      t.same(await localLeftovers(root), [], 'nothing left behind');
    });
  }
}

t.test('through the HTTP API: raw and multipart uploads to such keys answer 409, reads 404', async (t) => {
  const gw = await startGateway();
  t.teardown(() => gw.close());
  const auth = { authorization: `Bearer ${TOKEN_ALL}` };
  const put = (name: string, query: string): Promise<Response> =>
    fetch(`${gw.url}/v1/workspaces/ws-1/uploads/${name}?slot=docs&root=x&${query}`, { method: 'PUT', headers: { ...auth, 'content-type': 'text/plain' }, body: 'hello' });

  const deep = await put('b', 'path=a');
  t.equal(deep.status, 201);
  const folder = await put('a', '');
  t.equal(folder.status, 409);
  const folderErr = ((await folder.json()) as any).error;
  t.match(folderErr, { code: 'key_conflict', details: { key: 'workspaces/ws-1/storage/x/a' } });
  t.notOk('stack' in folderErr);

  const below = await put('c', 'path=a/b');
  t.equal(below.status, 409, 'x/a/b is an object: nothing can go below it');
  t.match(((await below.json()) as any).error, { code: 'key_conflict', details: { object: 'workspaces/ws-1/storage/x/a/b' } });

  const form = new FormData();
  form.append('slot', 'docs');
  form.append('root', 'x');
  form.append('file', new Blob(['abc']), 'a');
  const multipart = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', headers: auth, body: form });
  t.equal(multipart.status, 409);
  t.equal(((await multipart.json()) as any).error.code, 'key_conflict');

  const uri = encodeURIComponent('res://v1/ws/ws-1/file/blob/retained/storage/x/a');
  const read = await gw.call('GET', `/v1/resources?uri=${uri}`);
  t.equal(read.status, 404);
  t.equal(read.json.error.code, 'not_found');
  const content = await gw.call('GET', `/v1/resources/content?uri=${uri}`);
  t.equal(content.status, 404);
  t.same((await gw.residue()).tmp, [], 'no temp file left');
});
