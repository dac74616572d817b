import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import type { LocalDriver } from '../../src/storage/local/local-driver.js';
import { tempLocalStore, writeRequest } from '../helpers/local-store.js';
import { localLeftovers } from '../contract/local-leftovers.js';

/*
 * Two writers racing for `x/a` and `x/a/b` on the local store (keys are
 * paths there): whichever loses is the caller's key conflict, 409, never a
 * 502. The race the review found: `x/a/b`'s rename finds meta/x missing...
 * its mkdir of meta/x/a then meets the file `x/a` just committed (EEXIST
 * from mkdir, not ENOTDIR from rename). And a delete of a key that is a
 * folder of keys, or lies below an object, is idempotent as on S3 and GCS:
 * nothing is there, so nothing to do.
 */

const store = (t: Test): ReturnType<typeof tempLocalStore> => tempLocalStore(t);

function write(driver: LocalDriver, key: string, size: number): Promise<unknown> {
  return driver.write(writeRequest(key, Readable.from([Buffer.alloc(size, 7)]), size <= 1024 ? { expectedSize: size } : {}));
}

for (const [label, size] of [['inline', 100], ['data file', 200 * 1024]] as const) {
  t.test(`concurrent writes of x/a and x/a/b (${label}): the loser is key_conflict, never storage_error`, async (t) => {
    const { root, driver } = await store(t);
    const codes = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const outcomes = await Promise.allSettled([write(driver, `ws/r${i}/a`, size), write(driver, `ws/r${i}/a/b`, size)]);
      t.ok(outcomes.some((o) => o.status === 'fulfilled'), `round ${i}: one of the two is stored`);
      for (const o of outcomes) {
        const code = o.status === 'fulfilled' ? 'ok' : String((o.reason as { code?: unknown }).code);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    t.same([...codes.keys()].filter((c) => c !== 'ok' && c !== 'key_conflict'), [], `outcomes: ${JSON.stringify(Object.fromEntries(codes))}`);
    t.same(await readdir(join(root, 'tmp')), [], 'no temp file');
    t.same(await localLeftovers(root), []);
  });
}

t.test('deleting a key that is a folder of keys, or lies below an object, is done: nothing is there', async (t) => {
  const { driver } = await store(t);
  await write(driver, 'ws/r/a', 10);
  await write(driver, 'ws/f/a/b', 10);
  await t.resolves(driver.delete('ws/r/a/b'), 'below an object');
  await t.resolves(driver.delete('ws/f/a'), 'a folder of keys');
  await t.resolves(driver.delete('ws/f'), 'a folder two levels up');
  t.equal((await driver.head('ws/r/a')).meta.size, 10, 'the object above is intact');
  t.equal((await driver.head('ws/f/a/b')).meta.size, 10, 'the objects below are intact');
});
