import t from 'tap';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { TEST_CREDENTIALS, listedKeys, testClient } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';
import { replicaScenario } from './replicas-scenario.js';

const BUCKET = 'bg-replicas';

replicaScenario(t, 's3', async () => {
  const server = await startS3Server();
  server.createBucket(BUCKET);
  const inspect = testClient(server.endpoint);
  t.teardown(async () => {
    inspect.destroy();
    await server.stop();
  });
  const store = {
    driver: 's3',
    bucket: BUCKET,
    endpoint: server.endpoint,
    'force-path-style': true,
    'part-size': MIN_PART_SIZE,
    credentials: { 'access-key-id': 'env:BG_TEST_S3_KEY', 'secret-access-key': 'env:BG_TEST_S3_SECRET' },
  };
  return {
    config: { stores: { bg: store }, tiers: { retained: { store: 'bg' }, ephemeral: { store: 'bg' } } },
    env: { BG_TEST_S3_KEY: TEST_CREDENTIALS.accessKeyId, BG_TEST_S3_SECRET: TEST_CREDENTIALS.secretAccessKey },
    size: 3 * MIN_PART_SIZE,
    blobs: () => listedKeys(inspect, BUCKET, 'workspaces/'),
    leftovers: async () => [
      ...server.multipartUploads(BUCKET).map((u) => `multipart upload ${u.key}`),
      ...(await listedKeys(inspect, BUCKET, '.blobgate-staging/')).map((k) => `staging object ${k}`),
    ],
  };
});
