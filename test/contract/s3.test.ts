import t from 'tap';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { STAGING_DIR } from '../../src/storage/s3/staging.js';
import { listedKeys, listedUploads, testClient } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';
import { type ProxiedS3, startProxiedS3 } from '../../support/servers/s3/proxied.js';
import { type ContractHarness, driverContract } from './driver-contract.js';

// 5 MiB: S3's minimum part size, so part boundaries fall where real S3 puts them.
const PART = MIN_PART_SIZE;
const PREFIX = 'env-a/';
const bucket = 'bg-contract';

function harness(driverEndpoint: string, inspectEndpoint: string, notEnforced: string[] = []): ContractHarness {
  const inspect = testClient(inspectEndpoint);
  t.teardown(() => inspect.destroy());
  return {
    driver: new S3Driver({ client: testClient(driverEndpoint), bucket, prefix: PREFIX, partSize: PART }),
    notEnforced,
    leftovers: async () => [
      // In-progress multipart uploads anywhere in the bucket (ListMultipartUploads), and staging objects.
      ...(await listedUploads(inspect, bucket)).map((u) => `multipart upload ${u}`),
      ...(await listedKeys(inspect, bucket, PREFIX + STAGING_DIR)).map((k) => `staging object ${k}`),
    ],
  };
}

driverContract(t, 's3', async () => {
  const server = await startS3Server();
  t.teardown(() => server.stop());
  server.createBucket(bucket);
  // fauxqs alone verifies no signature: the tampered presigned URL is served (the proxied run below refuses it).
  return harness(server.endpoint, server.endpoint, ['tampered url']);
});

// The same suite with every request's SigV4 signature (and payload hash) verified.
let proxied: ProxiedS3 | undefined;
driverContract(t, 's3 behind the SigV4-verifying proxy', async () => {
  const env = await startProxiedS3(bucket);
  proxied = env;
  t.teardown(() => env.stop());
  return harness(env.proxy.endpoint, env.server.endpoint);
});

t.test('the proxy refused only the tampered presigned URL of the contract suite', async (t) => {
  t.ok(proxied, 'the proxied suite ran');
  t.same([...(proxied?.proxy.rejected ?? [])], [['SignatureDoesNotMatch', 1]]);
});
