import t from 'tap';
import { TEST_CREDENTIALS } from '../../support/servers/s3/clients.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';
import { sidecarScenarios } from './search-sidecar-scenarios.js';

sidecarScenarios(t, 's3', async () => {
  const s3 = await startProxiedS3('bg-sidecar');
  // The gateway reads its S3 credentials through config secret references.
  process.env.BG_TEST_S3_KEY = TEST_CREDENTIALS.accessKeyId;
  process.env.BG_TEST_S3_SECRET = TEST_CREDENTIALS.secretAccessKey;
  return {
    // Through the SigV4-verifying front, which also enforces conditional writes.
    section: {
      driver: 's3',
      bucket: 'bg-sidecar',
      region: 'us-east-1',
      endpoint: s3.proxy.endpoint,
      'force-path-style': true,
      credentials: { 'access-key-id': 'env:BG_TEST_S3_KEY', 'secret-access-key': 'env:BG_TEST_S3_SECRET' },
    },
    outage: { start: () => s3.server.outage(), end: () => s3.server.restore() },
    stop: () => s3.stop(),
  };
});
