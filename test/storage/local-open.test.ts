import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LocalDriver } from '../../src/storage/local/local-driver.js';

t.test('open() removes temp files a crash left, unless told another process may be writing', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'bg-open-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await LocalDriver.open({ root });
  await writeFile(join(root, 'tmp', 'in-flight.data'), 'x');
  await LocalDriver.open({ root, cleanTmp: false });
  t.same(await readdir(join(root, 'tmp')), ['in-flight.data'], 'kept for the process writing it');
  await LocalDriver.open({ root });
  t.same(await readdir(join(root, 'tmp')), [], 'removed at a normal start');
});
