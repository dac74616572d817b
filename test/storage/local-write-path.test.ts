import { readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { localLeftovers } from '../contract/local-leftovers.js';
import type { LocalDriver } from '../../src/storage/local/local-driver.js';
import type { WriteRequest } from '../../src/storage/driver.js';
import { tempLocalStore, writeRequest } from '../helpers/local-store.js';

/*
 * The local write path of a small object (issue 18: 1 KiB persists) makes
 * as few round trips to the disk as it can: directories are created only
 * when a rename finds them missing, the meta is written while the data file
 * is renamed, and a small body is written with O_DSYNC instead of a separate
 * fsync. What each shortcut must still do is tested here.
 */

const store = (t: Test): ReturnType<typeof tempLocalStore> => tempLocalStore(t);

const request = writeRequest;

async function text(driver: LocalDriver, key: string): Promise<string> {
  const { body } = await driver.read(key);
  let out = '';
  for await (const chunk of body) out += String(chunk);
  return out;
}

t.test('a write recreates the meta directory a delete pruned', async (t) => {
  const { root, driver } = await store(t);
  await driver.write(request('workspaces/ws/a/b/x', Readable.from([Buffer.from('x')])));
  await driver.delete('workspaces/ws/a/b/x');
  t.same(await readdir(join(root, 'meta', 'workspaces', 'ws', 'a')).catch((err: NodeJS.ErrnoException) => err.code), 'ENOENT', 'the delete pruned the directory');
  await driver.write(request('workspaces/ws/a/b/y', Readable.from([Buffer.from('y')])));
  t.equal(await text(driver, 'workspaces/ws/a/b/y'), 'y');
  t.same(await localLeftovers(root), []);
});

t.test('a write recreates a data fan-out directory removed under a running store', async (t) => {
  const { root, driver } = await store(t);
  await driver.write(request('workspaces/ws/one', Readable.from([Buffer.from('1')])));
  await driver.delete('workspaces/ws/one');
  await rm(join(root, 'objects'), { recursive: true });
  await driver.write(request('workspaces/ws/two', Readable.from([Buffer.from('2')])));
  t.equal(await text(driver, 'workspaces/ws/two'), '2');
  t.same(await localLeftovers(root), []);
});

t.test('a write whose data file cannot be placed fails and leaves no temp file (the meta written beside it included)', async (t) => {
  const { root, driver } = await store(t);
  // Every fan-out directory is a file: the data file's rename fails (ENOTDIR) while its meta is being written.
  for (let i = 0; i < 256; i++) await writeFile(join(root, 'objects', i.toString(16).padStart(2, '0')), '');
  await t.rejects(driver.write(request('workspaces/ws/k', Readable.from([Buffer.from('k')]))), { code: 'storage_error' });
  t.same(await readdir(join(root, 'tmp')), [], 'no temp data or meta file');
  await t.rejects(driver.head('workspaces/ws/k'), { code: 'not_found' }, 'nothing visible at the key');
});

/** The open flags of the temp data file of a write in flight (Linux: /proc/self/fdinfo). */
async function tempDataFlags(root: string): Promise<number | undefined> {
  const tmp = join(root, 'tmp');
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(join('/proc/self/fd', fd)).catch(() => '');
    if (!target.startsWith(tmp) || !target.endsWith('.data')) continue;
    const info = await readFile(join('/proc/self/fdinfo', fd), 'utf8');
    const flags = /^flags:\s+([0-7]+)$/m.exec(info)?.[1];
    if (flags !== undefined) return parseInt(flags, 8);
  }
  return undefined;
}

/** Starts a write whose body stays open, waits for its temp data file to be open and returns its flags; then ends the body. */
async function flagsOfWrite(t: Test, extra: Partial<WriteRequest>): Promise<number> {
  const { root, driver } = await store(t);
  const body = new PassThrough();
  body.write('first bytes');
  const written = driver.write(request('workspaces/ws/f', body, extra));
  let flags: number | undefined;
  while ((flags = await tempDataFlags(root)) === undefined) await new Promise((r) => setImmediate(r));
  body.end('last bytes');
  await written;
  t.equal(await text(driver, 'workspaces/ws/f'), 'first byteslast bytes');
  return flags;
}

if (process.platform === 'linux') {
  t.test('a body announced small is written with O_DSYNC: durable when its writes return, with no fsync of its own', async (t) => {
    // Past INLINE_MAX_BYTES (a smaller body is kept inside its meta file: local-inline.test.ts), within DSYNC_MAX_BYTES.
    const flags = await flagsOfWrite(t, { expectedSize: 20 * 1024 });
    t.ok(flags & constants.O_DSYNC, 'O_DSYNC is set');
  });

  t.test('a body of unknown or large size is written without O_DSYNC (it is fsynced once at close)', async (t) => {
    t.notOk((await flagsOfWrite(t, {})) & constants.O_DSYNC, 'unknown size: no O_DSYNC');
    t.notOk((await flagsOfWrite(t, { expectedSize: 10 * 1024 * 1024 })) & constants.O_DSYNC, 'large: no O_DSYNC');
  });
}
