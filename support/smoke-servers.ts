// The test servers `npm run smoke` and test/smoke/*.test.ts run the smoke test
// against (not a test file itself): fauxqs behind the SigV4-verifying proxy,
// the project's GCS test server verifying V4 signed URLs, and a local store in
// a temp dir — plus the gateway config (file form) with one store of each kind.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../src/config/load.js';
import type { Config } from '../src/config/types.js';
import type { GcsServiceAccountKey } from '../src/storage/gcs/client.js';
import { bypassProxyForLoopback } from './servers/loopback.js';
import { type GcsTestServer, startGcsServer } from './servers/gcs/server.js';
import { testServiceAccount } from './servers/gcs/service-account.js';
import { TEST_CREDENTIALS, listedKeys } from './servers/s3/clients.js';
import { type ProxiedS3, startProxiedS3 } from './servers/s3/proxied.js';

/** The row names are the smoke test's interface (scripts, CI logs): spelled out here on purpose. */
export const ROWS = ['write small', 'write parts', 'ranged read', 'head', 'list', 'signed url', 'tampered url', 'over-cap write', 'aborted write', 'delete', 'cleanup'];

export const S3_BUCKET = 'bg-smoke';
export const GCS_BUCKET = 'bg-smoke';
/** Env names of the S3 test credentials, read by the store config through `env:` secret refs. */
const KEY_ENV = 'BG_SMOKE_S3_KEY';
const SECRET_ENV = 'BG_SMOKE_S3_SECRET';

export interface SmokeServers {
  dir: string;
  s3: ProxiedS3;
  gcs: GcsTestServer;
  serviceAccount: GcsServiceAccountKey;
  /** `file:` path of the service-account key. */
  keyFile: string;
  localRoot: string;
  /** Store configs (file form), by store name: local, s3 (through the proxy), gcs. */
  stores: Record<string, Record<string, unknown>>;
  /** S3 store config straight at fauxqs (no signature checks). */
  s3Direct(): Record<string, unknown>;
  /** A gateway config over the given stores (default: local, s3, gcs). */
  config(stores?: Record<string, Record<string, unknown>>): Config;
  /** What is physically left: local files, S3 objects and uploads, GCS objects and sessions. */
  residue(): Promise<{ local: string[]; s3: string[]; gcs: string[] }>;
  stop(): Promise<void>;
}

export async function startSmokeServers(): Promise<SmokeServers> {
  // The GCS client must use apiEndpoint, and loopback must never go through a proxy.
  delete process.env.STORAGE_EMULATOR_HOST;
  bypassProxyForLoopback();
  process.env[KEY_ENV] = TEST_CREDENTIALS.accessKeyId;
  process.env[SECRET_ENV] = TEST_CREDENTIALS.secretAccessKey;

  const dir = await mkdtemp(join(tmpdir(), 'bg-smoke-'));
  const stops: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true })];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const s3 = await startProxiedS3(S3_BUCKET);
    stops.push(() => s3.stop());

    const clientEmail = 'blobgate-smoke@test.iam.gserviceaccount.com';
    const { key: serviceAccount, publicKeyPem } = testServiceAccount(clientEmail);
    const gcs = await startGcsServer({ host: '127.0.0.1', serviceAccountPublicKeyPem: publicKeyPem, clientEmail });
    stops.push(() => gcs.stop());
    gcs.createBucket(GCS_BUCKET);
    const keyFile = join(dir, 'sa.json');
    await writeFile(keyFile, JSON.stringify(serviceAccount), { mode: 0o600 });

    const localRoot = join(dir, 'local-store');
    const s3Store = (endpoint: string): Record<string, unknown> => ({
      driver: 's3',
      bucket: S3_BUCKET,
      region: 'us-east-1',
      endpoint,
      'force-path-style': true,
      credentials: { 'access-key-id': `env:${KEY_ENV}`, 'secret-access-key': `env:${SECRET_ENV}` },
    });
    const stores = {
      local: { driver: 'local', root: localRoot },
      s3: s3Store(s3.proxy.endpoint),
      gcs: { driver: 'gcs', bucket: GCS_BUCKET, 'project-id': 'test', 'api-endpoint': gcs.url, credentials: `file:${keyFile}` },
    };
    return {
      dir,
      s3,
      gcs,
      serviceAccount,
      keyFile,
      localRoot,
      stores,
      s3Direct: () => s3Store(s3.server.endpoint),
      config: (chosen = stores) => {
        const first = Object.keys(chosen)[0]!;
        return buildConfig({ port: 0, stores: chosen, tiers: { retained: { store: first }, ephemeral: { store: first } } }, { BLOBGATE_DATA_DIR: join(dir, 'data') }, dir);
      },
      residue: async () => {
        const local: string[] = [];
        for (const tree of ['objects', 'meta', 'tmp']) {
          const entries = await readdir(join(localRoot, tree), { recursive: true, withFileTypes: true }).catch(() => []);
          local.push(...entries.filter((e) => e.isFile()).map((e) => `${tree}/${e.name}`));
        }
        const s3Left = [...(await listedKeys(s3.direct, S3_BUCKET)), ...s3.server.multipartUploads(S3_BUCKET).map((u) => `upload ${u.key}`)];
        const gcsLeft = [...gcs.objectNames(GCS_BUCKET), ...gcs.openSessions().map((s) => `session ${s.bucket}/${s.name}`)];
        return { local, s3: s3Left, gcs: gcsLeft };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
