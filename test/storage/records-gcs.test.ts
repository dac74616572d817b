import t from 'tap';
import { buildGcsStorage } from '../../src/storage/gcs/client.js';
import { GcsDriver } from '../../src/storage/gcs/gcs-driver.js';
import { RECORDS_DIR } from '../../src/storage/records.js';
import { startGcs } from '../gcs/harness.js';
import { recordsContract } from '../contract/records-contract.js';

// The records contract on the project's GCS JSON-API server. Each driver has
// its own Storage client, as two replicas would.
const PREFIX = 'env-a/';

recordsContract(t, 'gcs', async () => {
  const gcs = await startGcs(t);
  const driver = () =>
    new GcsDriver({ storage: buildGcsStorage({ apiEndpoint: gcs.server.url, projectId: 'test', credentials: gcs.serviceAccount }), bucket: gcs.bucket, prefix: PREFIX });
  return {
    drivers: [driver(), driver()],
    prefix: PREFIX,
    physical: (key) => `${PREFIX}${RECORDS_DIR}${key}`,
    physicalNames: async () => gcs.server.objectNames(gcs.bucket),
  };
});
