import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import t from 'tap';
import { TEST_CREDENTIALS } from '../../support/servers/s3/clients.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';
import { storeE2E } from './store-e2e.js';

const BUCKET = 'bg-e2e';
const PART = 5 * 1024 * 1024;

storeE2E(t, 's3', async () => {
  const s3 = await startProxiedS3(BUCKET);
  // The gateway reads its S3 credentials through config secret references.
  process.env.BG_TEST_S3_KEY = TEST_CREDENTIALS.accessKeyId;
  process.env.BG_TEST_S3_SECRET = TEST_CREDENTIALS.secretAccessKey;
  return {
    // Through the SigV4-verifying proxy: every request and every presigned URL is signature-checked.
    store: {
      driver: 's3',
      bucket: BUCKET,
      region: 'us-east-1',
      endpoint: s3.proxy.endpoint,
      'force-path-style': true,
      'part-size': PART,
      credentials: { 'access-key-id': 'env:BG_TEST_S3_KEY', 'secret-access-key': 'env:BG_TEST_S3_SECRET' },
    },
    unit: PART,
    backend: 's3',
    bucket: BUCKET,
    leftovers: async () => {
      const uploads = s3.server.multipartUploads(BUCKET).map((u) => `upload:${u.key}`);
      const staging = (await keys(s3.direct)).filter((k) => k.includes('.blobgate-staging/')).map((k) => `staging:${k}`);
      return [...uploads, ...staging];
    },
    objectNames: () => keys(s3.direct),
    stop: () => s3.stop(),
  };
});

async function keys(client: import('@aws-sdk/client-s3').S3Client): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, ...(token ? { ContinuationToken: token } : {}) }));
    out.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
    token = page.NextContinuationToken;
  } while (token);
  return out.sort();
}
