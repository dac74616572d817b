/**
 * blobgate under test: the built gateway (`node dist/main.js` with the flags
 * `npm start` gives it, src/node-flags.ts; run `npm run build` first) as a
 * child process, configured by a JSON file with the store under test beside
 * `local` (which holds the retained tier; the store under test backs the
 * ephemeral tier) — `local` (a directory on the same disk as the peers'
 * files), `s3` (the fauxqs endpoint, path style, credentials by `env:`
 * references) or `gcs` (the test server's api-endpoint, service-account key
 * by a `file:` reference), as a deployment on that store would be
 * configured: the gateway loads only the SDK of a configured store, so its
 * RSS is that of such a deployment. A persist chooses its store through a
 * slot binding (`slots: {x: {root: 'bench', connection: <store>}}`) into the
 * ephemeral tier.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { GATEWAY_ENV, GATEWAY_NODE_FLAGS, gatewayEnv } from '../../src/node-flags.js';
import { cleanEnv } from './proc.js';
import { BUCKET, GCS_CHUNK_SIZE, GCS_PARALLEL_PARTS, S3_CREDENTIALS, S3_PART_SIZE, S3_QUEUE_SIZE, S3_REGION, type StoreName, type Stores } from './servers.js';
import { sleep } from './measure.js';

export const WORKSPACE = 'ws-bench';
const TOKEN = 'bench-token-0123456789abcdefghij';

export interface BlobRef {
  store: string;
  backend: string;
  bucket: string | null;
  path: string;
  size: number;
  sha256: string;
}

export interface PersistResult {
  status: number;
  uri?: string;
  blobRef?: BlobRef;
  error?: string;
}

export interface Gateway {
  pid: number;
  url: string;
  /** Root directory of the local store. */
  localRoot: string;
  persist(store: StoreName, url: string, path: string, filename?: string): Promise<PersistResult>;
  /** Where a persisted object can be read back by the store's own client: S3/GCS key, or local file path. */
  physical(store: StoreName, ref: BlobRef): Promise<string>;
  remove(uri: string): Promise<number>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * BENCH_S3_CHECKSUM_MODE: the gateway's S3 `checksum-mode` (an A/B of the SDK's CRC32 on uploads;
 * blobgate only, the SDK peer keeps the SDK's default). Read when a bench script loads, so a typo
 * stops it before the first series rather than at the S3 gateway's start.
 */
export const BENCH_S3_CHECKSUM_MODE = ((): 'when-supported' | 'when-required' | undefined => {
  const v = process.env.BENCH_S3_CHECKSUM_MODE;
  if (v === undefined || v === '') return undefined;
  if (v === 'when-supported' || v === 'when-required') return v;
  throw new Error(`BENCH_S3_CHECKSUM_MODE must be when-supported or when-required, not ${JSON.stringify(v)}`);
})();

export function gatewayConfig(stores: Stores, localRoot: string, port: number, store: StoreName): Record<string, unknown> {
  const clouds: Record<string, unknown> = {
    s3: {
      driver: 's3',
      bucket: BUCKET,
      region: S3_REGION,
      endpoint: stores.s3Endpoint,
      'force-path-style': true,
      'part-size': S3_PART_SIZE,
      'queue-size': S3_QUEUE_SIZE,
      ...(BENCH_S3_CHECKSUM_MODE === undefined ? {} : { 'checksum-mode': BENCH_S3_CHECKSUM_MODE }),
      credentials: { 'access-key-id': 'env:BENCH_S3_KEY', 'secret-access-key': 'env:BENCH_S3_SECRET' },
    },
    gcs: {
      driver: 'gcs',
      bucket: BUCKET,
      'project-id': 'bench',
      'api-endpoint': stores.gcsUrl,
      'chunk-size': GCS_CHUNK_SIZE,
      'parallel-parts': GCS_PARALLEL_PARTS,
      credentials: `file:${stores.serviceAccountFile}`,
    },
  };
  return {
    host: '127.0.0.1',
    port,
    stores: { local: { driver: 'local', root: localRoot }, ...(store === 'local' ? {} : { [store]: clouds[store] }) },
    // A store is bound to the tier that names it (src/persist/placement.ts): the store under test backs the ephemeral tier.
    tiers: { retained: { store: 'local' }, ephemeral: { store } },
    tokens: [{ token: TOKEN, workspaces: ['*'] }],
    limits: { transfers: 64, 'transfer-queue': 256 },
    upstream: { allow: ['127.0.0.1'], 'timeout-seconds': 600 },
    expiry: { 'sweep-interval-seconds': 0 },
    'log-level': 'warn',
  };
}

/**
 * The flags `npm start` gives the gateway, then BENCH_GATEWAY_NODE_ARGS (an A/B of runtime flags: V8 takes
 * the last value of a flag given twice, so `--max-semi-space-size=16` measures V8's default young generation).
 */
export function gatewayNodeFlags(): string[] {
  return [...GATEWAY_NODE_FLAGS, ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];
}

/** The environment variables of GATEWAY_ENV as the gateway gets them (this process's own value of one wins, for an A/B), as `NAME=value` words. */
export function gatewayEnvWords(): string[] {
  return Object.keys(GATEWAY_ENV).map((k) => `${k}=${gatewayEnv(process.env)[k] ?? ''}`);
}

export async function startGateway(stores: Stores, workDir: string, store: StoreName, nodeArgs: string[] = []): Promise<Gateway> {
  // BENCH_BLOBGATE_ENTRY: a build of one's own (tsc -p tsconfig.build.json --outDir …), so a shared tree's dist/ may change meanwhile.
  const entry = process.env.BENCH_BLOBGATE_ENTRY ?? 'dist/main.js';
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first (npm run bench does).`);
  const localRoot = join(workDir, 'blobgate-local');
  const dataDir = join(workDir, 'blobgate-data');
  await mkdir(dataDir, { recursive: true });
  await rm(localRoot, { recursive: true, force: true }); // a restart starts from an empty local store
  const port = await freePort();
  const configFile = join(workDir, 'blobgate.json');
  await writeFile(configFile, JSON.stringify(gatewayConfig(stores, localRoot, port, store), null, 2));
  const env = gatewayEnv(cleanEnv({
    BLOBGATE_CONFIG: configFile,
    BLOBGATE_DATA_DIR: dataDir,
    BLOBGATE_SIGNING_SECRET: 'bench-signing-secret-0123456789abcdef',
    BENCH_S3_KEY: S3_CREDENTIALS.accessKeyId,
    BENCH_S3_SECRET: S3_CREDENTIALS.secretAccessKey,
  }));
  const child: ChildProcess = spawn(process.execPath, [...gatewayNodeFlags(), ...nodeArgs, entry], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let up = false;
  for (let i = 0; i < 400 && child.exitCode === null; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) {
        up = true;
        break;
      }
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  if (!up) {
    child.kill('SIGKILL');
    throw new Error('blobgate did not become healthy');
  }
  // No timeouts on the driver's side: a 4 GiB persist into a slow store answers after minutes.
  const agent = new Agent({ connections: 256, headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 30_000 });
  const auth = { authorization: `Bearer ${TOKEN}` };

  return {
    pid: child.pid!,
    url,
    localRoot,
    async persist(store, upstreamUrl, path, filename = 'data.bin') {
      const body = {
        'flow-slug': 'bench',
        'step-id': 'persist',
        request: { url: upstreamUrl, timeout: 600, 'response-as': 'bytes' },
        slots: { x: { root: 'bench', connection: store } },
        persist: { type: 'blob', tier: 'ephemeral', slot: 'x', path, filename },
      };
      const res = await request(`${url}/v1/workspaces/${WORKSPACE}/http`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        dispatcher: agent,
      });
      const text = await res.body.text();
      let json: { uri?: string; 'blob-ref'?: BlobRef } = {};
      try {
        json = JSON.parse(text) as typeof json;
      } catch {
        // reported as the error below
      }
      const ok = res.statusCode === 200 && json['blob-ref'] !== undefined;
      return {
        status: res.statusCode,
        ...(json.uri ? { uri: json.uri } : {}),
        ...(json['blob-ref'] ? { blobRef: json['blob-ref'] } : {}),
        ...(ok ? {} : { error: text.slice(0, 500) }),
      };
    },
    async physical(store, ref) {
      if (store !== 'local') return ref.path;
      // The local store keeps meta/<key> (JSON naming its data file) and objects/<xx>/<data id>;
      // before that layout (≤ 3f4a265) the bytes were at objects/<key>.
      const meta = JSON.parse(await readFile(join(localRoot, 'meta', ref.path), 'utf8')) as { data?: unknown };
      return typeof meta.data === 'string' ? join(localRoot, 'objects', meta.data.slice(0, 2), meta.data) : join(localRoot, 'objects', ref.path);
    },
    async remove(uri) {
      const res = await request(`${url}/v1/resources?uri=${encodeURIComponent(uri)}`, { method: 'DELETE', headers: auth, dispatcher: agent });
      await res.body.dump();
      return res.statusCode;
    },
    async stop() {
      await agent.close();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
