/**
 * `npm run dev:stores [-- --config <file>]`: S3 and GCS on this machine, no
 * cloud account needed — the servers the project's own tests run against,
 * as MinIO and fake-gcs-server are for other projects:
 *
 * - S3: fauxqs (with the harness's repairs) behind the SigV4-verifying front,
 *   which refuses a wrong key, a bad signature and a tampered or expired
 *   presigned URL as S3 does;
 * - GCS: blobgate's own JSON-API server, which verifies V4 signed URLs with
 *   the service account's public key.
 *
 * Both listen on 127.0.0.1 (ports chosen by the system), each with the bucket
 * `blobgate-dev`. The script writes a gateway config over them (retained tier
 * on S3, ephemeral on GCS) with fresh credentials by `file:` reference next to
 * it, prints the command that starts blobgate with it, and stays up until
 * Ctrl-C. Objects live in memory: they are gone when it stops.
 *
 * The servers are those of support/servers/, which the tests start too.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { Command } from 'commander';
import { startGcsServer, type GcsTestServer } from '../support/servers/gcs/server.js';
import { testServiceAccount } from '../support/servers/gcs/service-account.js';
import { startS3Server, TEST_REGION, type S3TestServer } from '../support/servers/s3/fauxqs.js';
import { startSigV4Proxy, type SigV4Proxy } from '../support/servers/s3/sigv4-proxy.js';

export const DEV_BUCKET = 'blobgate-dev';
export const DEFAULT_CONFIG = join('.blobgate', 'dev-stores.json');

export interface DevStores {
  /** The S3 endpoint a client uses (the verifying front). */
  s3Endpoint: string;
  gcsUrl: string;
  /** Absolute path of the gateway config written. */
  configFile: string;
  config: Record<string, unknown>;
  stop(): Promise<void>;
}

/** Starts both servers, creates the buckets and writes the config (credentials in files beside it, mode 0600). */
export async function startDevStores(configFile: string): Promise<DevStores> {
  const file = resolve(configFile);
  const secrets = join(dirname(file), 'dev-stores');
  await mkdir(secrets, { recursive: true, mode: 0o700 });
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const accessKeyId = `BGDEV${randomBytes(6).toString('hex').toUpperCase()}`;
    const secretAccessKey = randomBytes(24).toString('base64url');
    const s3: S3TestServer = await startS3Server();
    stops.push(() => s3.stop());
    s3.createBucket(DEV_BUCKET);
    const front: SigV4Proxy = await startSigV4Proxy({ target: s3.endpoint, credentials: { [accessKeyId]: secretAccessKey }, region: TEST_REGION });
    stops.push(() => front.stop());

    const clientEmail = 'blobgate-dev@dev-stores.iam.gserviceaccount.com';
    const { key: serviceAccount, publicKeyPem } = testServiceAccount(clientEmail, 'dev');
    const gcs: GcsTestServer = await startGcsServer({ host: '127.0.0.1', port: 0, serviceAccountPublicKeyPem: publicKeyPem, clientEmail });
    stops.push(() => gcs.stop());
    gcs.createBucket(DEV_BUCKET);

    const keyFile = join(secrets, 'gcs-service-account.json');
    const idFile = join(secrets, 's3-access-key-id');
    const secretFile = join(secrets, 's3-secret-access-key');
    await writeFile(keyFile, JSON.stringify(serviceAccount), { mode: 0o600 });
    await writeFile(idFile, `${accessKeyId}\n`, { mode: 0o600 });
    await writeFile(secretFile, `${secretAccessKey}\n`, { mode: 0o600 });

    const config = {
      stores: {
        s3: {
          driver: 's3',
          bucket: DEV_BUCKET,
          region: TEST_REGION,
          endpoint: front.endpoint,
          'force-path-style': true,
          credentials: { 'access-key-id': `file:${idFile}`, 'secret-access-key': `file:${secretFile}` },
        },
        gcs: { driver: 'gcs', bucket: DEV_BUCKET, 'project-id': 'dev', 'api-endpoint': gcs.url, credentials: `file:${keyFile}` },
      },
      tiers: { retained: { store: 's3' }, ephemeral: { store: 'gcs' } },
    };
    await writeFile(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    return { s3Endpoint: front.endpoint, gcsUrl: gcs.url, configFile: file, config, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main(): Promise<void> {
  const program = new Command('dev-stores')
    .description('Start S3 (with SigV4 verification) and GCS servers on 127.0.0.1 and write a blobgate config for them')
    .option('--config <file>', 'where to write the gateway config', DEFAULT_CONFIG)
    .parse(process.argv);
  const { config: configFile } = program.opts<{ config: string }>();
  const stores = await startDevStores(configFile);
  const shown = shownPath(stores.configFile);
  const lines = [
    `S3   ${stores.s3Endpoint}  bucket ${DEV_BUCKET}  (fauxqs behind a SigV4-verifying front)`,
    `GCS  ${stores.gcsUrl}  bucket ${DEV_BUCKET}  (blobgate's GCS JSON-API server, V4 signed URLs verified)`,
    `config: ${shown}  (retained tier on s3, ephemeral on gcs; credentials in ${shownPath(join(dirname(stores.configFile), 'dev-stores'))}/)`,
    '',
    'Start blobgate on them (another terminal, same directory):',
    `  BLOBGATE_CONFIG=${shown} npm start`,
    'Check both stores end to end:',
    `  BLOBGATE_CONFIG=${shown} npm run cli -- smoke --all`,
    '',
    'Objects are kept in memory and are gone when this stops. Ctrl-C to stop.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    void stores.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

/** A path as the user would type it here: relative below the working directory, else absolute; quoted for the shell when needed. */
function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  const shown = rel === '' || rel.startsWith('..') ? path : rel;
  return /^[\w./-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, "'\\''")}'`;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main().catch((err: unknown) => {
    process.stderr.write(`dev-stores: could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
