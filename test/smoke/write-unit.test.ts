import t from 'tap';
import { runSmokeInProcess } from '../../src/smoke/in-process.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { CHUNK_ALIGN } from '../../src/storage/gcs/gcs-write.js';
import { startSmokeServers } from '../../support/smoke-servers.js';

// The smoke's multipart checks write around the unit each store writes with, which the
// store's driver reports (StorageDriver.writeUnitBytes), not a copy of its config.
t.test("the smoke writes in each store's configured part and chunk size", async (t) => {
  const servers = await startSmokeServers();
  t.teardown(() => servers.stop());
  const chunk = 2 * CHUNK_ALIGN;
  const config = servers.config({
    s3: { ...servers.stores.s3, 'part-size': MIN_PART_SIZE },
    gcs: { ...servers.stores.gcs, 'chunk-size': chunk },
  });
  const report = await runSmokeInProcess({ config });
  const detail = (store: string): string => report.stores.find((s) => s.store === store)!.rows.find((r) => r.check === 'write parts')!.detail ?? '';
  t.match(detail('s3'), `${3 * MIN_PART_SIZE + 7} bytes (3 × ${MIN_PART_SIZE} + 7), read back identical`);
  t.match(detail('gcs'), `${3 * chunk + 7} bytes (3 × ${chunk} + 7), read back identical`);
  t.same({ passed: report.passed, failed: report.failed }, { passed: 22, failed: 0 });
  t.same(await servers.residue(), { local: [], s3: [], gcs: [] }, 'nothing left');
});
