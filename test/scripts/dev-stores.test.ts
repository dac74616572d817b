// `npm run dev:stores` as a new user runs it: the script starts S3 and GCS on
// 127.0.0.1 and writes a config; blobgate started on that config (src/main.ts,
// as `npm start` runs it) persists into each store and reads the bytes back.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { patternChunk } from '../helpers/bytes.js';
import { startUpstream } from '../helpers/upstream.js';
import { until } from '../helpers/until.js';

const root = new URL('../..', import.meta.url).pathname;

interface Child {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
}

/** A node child with only PATH and `env` (no AWS_CA_BUNDLE, no proxy settings of this machine). */
function run(args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => void (child.exitCode === null && child.kill('SIGKILL')));
  return { child, out: () => out, err: () => err, exit };
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

t.test('the printed config starts blobgate on S3 and GCS; a persist into each reads back identical', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-dev-stores-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'dev-stores.json');
  const stores = run(['scripts/dev-stores.ts', '--config', configFile]);
  await until('dev-stores to be ready', () => /Ctrl-C to stop/.test(stores.out()) || stores.child.exitCode !== null, 30_000);
  t.match(stores.out(), `BLOBGATE_CONFIG=${configFile} npm start`, 'it prints the command to start blobgate on the config');
  const config = JSON.parse(await readFile(configFile, 'utf8')) as { stores: Record<string, { driver: string; endpoint?: string; 'api-endpoint'?: string }> };
  t.same(Object.fromEntries(Object.entries(config.stores).map(([n, s]) => [n, s.driver])), { s3: 's3', gcs: 'gcs' });
  t.match(config.stores.s3?.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.match(config.stores.gcs?.['api-endpoint'], /^http:\/\/127\.0\.0\.1:\d+$/);
  t.notMatch(JSON.stringify(config), /BGDEV|PRIVATE KEY/, 'credentials are references, not values');

  const up = await startUpstream();
  t.teardown(() => up.stop());
  const gateway = run(['src/main.ts'], { BLOBGATE_CONFIG: configFile, BLOBGATE_PORT: '0', BLOBGATE_DATA_DIR: join(dir, 'data'), BLOBGATE_UPSTREAM_ALLOW: '127.0.0.1', BLOBGATE_LOG_LEVEL: 'warn' });
  await until('blobgate to listen', () => /Try it/.test(gateway.err()) || gateway.child.exitCode !== null, 30_000);
  const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(gateway.err())?.[1];
  t.ok(base, `blobgate started:\n${gateway.err()}`);
  t.match(gateway.err(), /stores: s3 \(s3\), gcs \(gcs\)/);
  t.notMatch(gateway.err(), /NodeVersionSupportWarning/, 'no SDK warning at start');
  const token = (await readFile(join(dir, 'data', 'dev-token'), 'utf8')).trim();
  const auth = { authorization: `Bearer ${token}` };

  // 12 MiB into S3 (a multipart upload of 8 MiB parts through the SigV4 front), 3 MiB into GCS.
  for (const [tier, store, size] of [['retained', 's3', 12 * 1024 * 1024 + 5], ['ephemeral', 'gcs', 3 * 1024 * 1024]] as const) {
    const res = await fetch(`${base}/v1/workspaces/ws-dev/http`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ 'flow-slug': 'dev', 'step-id': store, request: { url: `${up.url}/bytes/${size}` }, persist: { type: 'blob', tier } }),
    });
    const ref = (await res.json()) as { uri: string; 'blob-ref': { store: string; size: number } };
    t.equal(res.status, 200, `${store}: persisted (${JSON.stringify(ref).slice(0, 200)})`);
    t.equal(ref['blob-ref'].store, store, `${tier} is the ${store} store`);
    t.equal(ref['blob-ref'].size, size);
    const content = await fetch(`${base}/v1/resources/content?uri=${encodeURIComponent(ref.uri)}`, { headers: auth });
    t.equal(content.status, 200);
    t.equal(sha256(Buffer.from(await content.arrayBuffer())), sha256(patternChunk(0, size)), `${store}: the bytes read back are the upstream's`);
  }

  gateway.child.kill('SIGTERM');
  t.equal(await gateway.exit, 0, 'blobgate stops cleanly');
  stores.child.kill('SIGINT');
  t.equal(await stores.exit, 0, 'dev-stores stops on Ctrl-C');
});
