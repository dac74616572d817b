import t from 'tap';
import { CHUNK, startGcs } from '../gcs/harness.js';
import { driverContract } from './driver-contract.js';

// The shared driver contract against the project's GCS JSON-API test server,
// with the smallest chunk GCS allows so that multi-chunk uploads, chunk
// boundaries and the single-request/resumable switch are all exercised (the
// checks size their bodies by the driver's write unit).
driverContract(t, 'gcs', async () => {
  const gcs = await startGcs(t);
  return {
    driver: gcs.driver({ prefix: 'env-a', chunkSize: CHUNK }),
    leftovers: async () => gcs.leftovers(),
  };
});
