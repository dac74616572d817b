import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import t from 'tap';
import { LocalDriver } from '../../src/storage/local/local-driver.js';
import { driverContract } from './driver-contract.js';

driverContract(t, 'local', async () => {
  const root = await mkdtemp(join(tmpdir(), 'bg-local-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const driver = await LocalDriver.open({ root, prefix: 'env-a' });
  return { driver, leftovers: () => localLeftovers(root) };
});

/**
 * Temp files, and data files under objects/ that no meta file names: a
 * failed write, an overwrite (the previous version's data) and a delete must
 * leave neither.
 */
export async function localLeftovers(root: string): Promise<string[]> {
  const referenced = new Set<string>();
  const metaDir = join(root, 'meta');
  for (const e of await readdir(metaDir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const data = (JSON.parse(await readFile(join(e.parentPath, e.name), 'utf8')) as { data: string }).data;
    referenced.add(data);
  }
  const objectsDir = join(root, 'objects');
  const unreferenced = (await readdir(objectsDir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && !referenced.has(e.name))
    .map((e) => `unreferenced ${relative(root, join(e.parentPath, e.name))}`);
  return [...(await readdir(join(root, 'tmp'))).map((f) => `tmp/${f}`), ...unreferenced];
}
