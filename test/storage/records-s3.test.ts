import t from 'tap';
import { type ProxiedS3, startProxiedS3 } from '../../support/servers/s3/proxied.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { RECORDS_DIR } from '../../src/storage/records.js';
import { listedKeys } from '../../support/servers/s3/clients.js';
import { recordsContract } from '../contract/records-contract.js';

// The records contract on S3: fauxqs behind the SigV4-verifying proxy, whose
// harness enforces If-None-Match (test/s3/conditional-writes.test.ts). Each
// driver has its own client, as two replicas would.
const bucket = 'bg-records';
const PREFIX = 'env-a/';

let proxied: ProxiedS3 | undefined;
recordsContract(t, 's3', async () => {
  const s3 = await startProxiedS3(bucket);
  proxied = s3;
  t.teardown(() => s3.stop());
  const driver = () => new S3Driver({ client: s3.client(), bucket, prefix: PREFIX });
  return {
    drivers: [driver(), driver()],
    prefix: PREFIX,
    physical: (key) => `${PREFIX}${RECORDS_DIR}${key}`,
    physicalNames: () => listedKeys(s3.direct, bucket),
  };
});

t.test('the proxy refused no request of the records suite', async (t) => {
  t.ok(proxied, 'the suite ran');
  t.same([...(proxied?.proxy.rejected ?? [])], []);
});
