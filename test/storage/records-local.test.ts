import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import t from 'tap';
import { LocalDriver } from '../../src/storage/local/local-driver.js';
import { recordsContract } from '../contract/records-contract.js';

// The records contract on the local store: two LocalDriver instances over one
// root stand for two processes sharing a file system.
const PREFIX = 'env-a/';

recordsContract(t, 'local', async () => {
  const root = await mkdtemp(join(tmpdir(), 'bg-records-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const one = await LocalDriver.open({ root, prefix: PREFIX });
  const two = await LocalDriver.open({ root, prefix: PREFIX });
  return {
    drivers: [one, two],
    prefix: PREFIX,
    physical: (key) => `records/${PREFIX}${key}`,
    physicalNames: async () =>
      (await readdir(root, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/')),
  };
});
