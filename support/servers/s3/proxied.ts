import { type S3Client } from '@aws-sdk/client-s3';
import { type S3TestServer, TEST_REGION, startS3Server } from './fauxqs.js';
import { TEST_CREDENTIALS, testClient } from './clients.js';
import { type SigV4Proxy, startSigV4Proxy } from './sigv4-proxy.js';

export interface ProxiedS3 {
  server: S3TestServer;
  proxy: SigV4Proxy;
  /** Added to the proxy's clock (ms), e.g. to make a URL expire without waiting. */
  clockSkew: { ms: number };
  /** A client of the proxy with the test credentials (or others). */
  client(credentials?: { accessKeyId: string; secretAccessKey: string }): S3Client;
  /** A client of fauxqs itself, bypassing the proxy: for looking at what got stored. */
  direct: S3Client;
  stop(): Promise<void>;
}

/** fauxqs with the SigV4-verifying proxy in front, knowing the test credentials only. */
export async function startProxiedS3(bucket: string): Promise<ProxiedS3> {
  const server = await startS3Server();
  server.createBucket(bucket);
  const clockSkew = { ms: 0 };
  const proxy = await startSigV4Proxy({
    target: server.endpoint,
    credentials: { [TEST_CREDENTIALS.accessKeyId]: TEST_CREDENTIALS.secretAccessKey },
    region: TEST_REGION,
    now: () => new Date(Date.now() + clockSkew.ms),
  });
  const direct = testClient(server.endpoint);
  return {
    server,
    proxy,
    clockSkew,
    client: (credentials) => testClient(proxy.endpoint, credentials ? { credentials } : {}),
    direct,
    stop: async () => {
      direct.destroy();
      await proxy.stop();
      await server.stop();
    },
  };
}
