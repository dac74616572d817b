import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LocalDriver } from '../../src/storage/local/local-driver.js';
import { driverContract } from './driver-contract.js';
import { localLeftovers } from './local-leftovers.js';

driverContract(t, 'local', async () => {
  const root = await mkdtemp(join(tmpdir(), 'bg-local-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const driver = await LocalDriver.open({ root, prefix: 'env-a' });
  return { driver, leftovers: () => localLeftovers(root) };
});
