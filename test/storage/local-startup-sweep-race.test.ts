import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sweepLocalDebris } from '../../src/storage/local/local-sweep.js';

// The start-up sweep takes debris of any age, and it may overlap the first requests. A write
// that renames its data into objects/ before the sweep lists it, and commits its meta after the
// sweep's first walk of meta/ passed its key, must keep its data (with a coarse mtime the file
// looks older than the sweep). A data file that stays unnamed is still removed.

const root = await mkdtemp(join(tmpdir(), 'bg-sweep-race-'));
t.teardown(() => rm(root, { recursive: true, force: true }));
const dirs = { objects: join(root, 'objects'), meta: join(root, 'meta'), tmp: join(root, 'tmp') };
for (const d of Object.values(dirs)) await mkdir(d, { recursive: true });

const old = new Date(Date.now() - 60_000);
async function dataFile(id: string): Promise<void> {
  await mkdir(join(dirs.objects, id.slice(0, 2)), { recursive: true });
  await writeFile(join(dirs.objects, id.slice(0, 2), id), 'bytes');
  await utimes(join(dirs.objects, id.slice(0, 2), id), old, old);
}

t.test('a write that commits during the start-up sweep keeps its data; a real orphan goes', async (t) => {
  await dataFile('committing');
  await dataFile('orphaned');
  const removed = await sweepLocalDebris(dirs, new Set(), Date.now(), {
    noWriteYet: true,
    // Between the sweep's two walks, the write commits its meta (as a concurrent write would).
    settle: () => writeFile(join(dirs.meta, 'key'), JSON.stringify({ data: 'committing', size: 5 })),
  });
  t.equal(removed, 1);
  t.same((await readdir(join(dirs.objects, 'co'))), ['committing'], 'the committed write keeps its data file');
  t.same((await readdir(join(dirs.objects, 'or'))), [], 'the orphan is removed');
});
