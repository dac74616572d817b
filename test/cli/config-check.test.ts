import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildConfig, ConfigError } from '../../src/config/load.js';
import { root, runCli, tsxImport } from './_cli.js';

/**
 * `blobgate config check` validates a configuration completely without
 * starting anything: every problem at once, each with its key path, no
 * credential value printed; exit 0 valid, 2 invalid. The gaps it closes in
 * src/config/load.ts are reported by the gateway's own start too.
 */
const SECRET = 'AKIAVERYSECRETVALUE1';
const dir = await mkdtemp(join(tmpdir(), 'bg-config-check-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const file = async (name: string, value: unknown): Promise<string> => {
  const path = join(dir, name);
  await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
};

const BAD = {
  'public-url': 'not-a-url',
  'log-level': 'verbose',
  stores: {
    s: { driver: 's3', bucket: 'b', endpoint: 'minio:9000', credentials: { 'access-key-id': SECRET, 'secret-access-key': 'env:BG_TEST_UNSET_SECRET' } },
    g: { driver: 'gcs', bucket: 'g', 'api-endpoint': 'http://', 'chunk-size': 300_000 },
  },
  tiers: { retained: { store: 's' }, ephemeral: { store: 'g' } },
};

const START_GAPS = [
  'public-url: must be an absolute http(s) URL',
  'log-level: must be one of fatal, error, warn, info, debug, trace, silent; got "verbose"',
  'stores.s.endpoint: must be an absolute http(s) URL',
  'stores.g.api-endpoint: must be an absolute http(s) URL',
  'stores.g.chunk-size: must be a multiple of 262144 (256 KiB), e.g. 524288',
];

t.test('an invalid configuration: every problem with its key path, exit 2, no credential value', async (t) => {
  const res = await runCli(['config', 'check', '--file', await file('bad.json', BAD)]);
  t.equal(res.code, 2);
  t.match(res.stderr, /^configuration is invalid \(7 problems\):\n/);
  for (const gap of START_GAPS) t.ok(res.stderr.includes(`  - ${gap}`), gap);
  t.match(res.stderr, /  - stores\.s\.credentials\.access-key-id: must be a reference/);
  t.match(res.stderr, /  - stores\.s\.credentials\.secret-access-key: .*BG_TEST_UNSET_SECRET/, 'an unset variable is found before start-up');
  t.notOk(res.stderr.includes(SECRET) || res.stdout.toString().includes(SECRET), 'the inline key is not repeated');
  t.equal(res.stdout.length, 0);
});

t.test('environment variables count as at start, and are named as such', async (t) => {
  const res = await runCli(['config', 'check'], { env: { BLOBGATE_LOG_LEVEL: 'loud', BLOBGATE_PUBLIC_URL: 'blobs.example.com', BLOBGATE_HOST: '0.0.0.0' } });
  t.equal(res.code, 2);
  t.match(res.stderr, /  - BLOBGATE_PUBLIC_URL: must be an absolute http\(s\) URL/);
  t.match(res.stderr, /  - BLOBGATE_LOG_LEVEL: must be one of .*got "loud"/);
  t.match(res.stderr, /  - host: listening on 0\.0\.0\.0 \(not loopback\) needs an API token/);
});

t.test('a valid S3 + GCS configuration: exit 0 and a summary, credentials resolved but never printed', async (t) => {
  const key = await file('sa.json', { type: 'service_account', client_email: 'bg@p.iam.gserviceaccount.com', private_key: '-----BEGIN PRIVATE KEY-----\nSECRETKEYBODY\n-----END PRIVATE KEY-----\n' });
  const good = await file('good.json', {
    'public-url': 'https://blobs.example.com',
    'log-level': 'warn',
    stores: {
      s3: { driver: 's3', bucket: 'bg-retained', endpoint: 'http://127.0.0.1:9000', 'force-path-style': true, credentials: { 'access-key-id': 'env:BG_TEST_KEY_ID', 'secret-access-key': 'env:BG_TEST_SECRET' }, 'part-size': 16 * 1024 * 1024, 'queue-size': 8 },
      gcs: { driver: 'gcs', bucket: 'bg-ephemeral', 'api-endpoint': 'https://storage.googleapis.com', credentials: `file:${key}`, 'chunk-size': 16 * 1024 * 1024 },
    },
    tiers: { retained: { store: 's3' }, ephemeral: { store: 'gcs' } },
  });
  const res = await runCli(['config', 'check', '--file', good], { env: { BG_TEST_KEY_ID: 'AKIDVALUE000', BG_TEST_SECRET: 'SECRETVALUE000' } });
  t.equal(res.code, 0, res.stderr);
  const out = res.stdout.toString();
  t.match(out, /^configuration is valid/);
  t.match(out, /stores: s3 \(s3, bucket bg-retained at http:\/\/127\.0\.0\.1:9000\), gcs \(gcs, bucket bg-ephemeral/);
  for (const value of ['AKIDVALUE000', 'SECRETVALUE000', 'SECRETKEYBODY']) t.notOk(out.includes(value) || res.stderr.includes(value), `${value} not printed`);

  const json = await runCli(['config', 'check', '--file', good, '--json'], { env: { BG_TEST_KEY_ID: 'x', BG_TEST_SECRET: 'y' } });
  t.equal(json.code, 0);
  t.same(JSON.parse(json.stdout.toString()), { valid: true, problems: [] });
  const notKey = await file('not-key.json', { ...JSON.parse(await (await import('node:fs/promises')).readFile(good, 'utf8')), stores: { gcs: { driver: 'gcs', bucket: 'b', credentials: `file:${good}` } }, tiers: { retained: { store: 'gcs' }, ephemeral: { store: 'gcs' } } });
  const bad = await runCli(['config', 'check', '--file', notKey, '--json']);
  t.equal(bad.code, 2);
  t.match(JSON.parse(bad.stdout.toString()), { valid: false, problems: [/^stores\.gcs\.credentials: file:.* does not hold a service-account key JSON/] });
});

t.test('a JSON syntax error is one problem, without the text', async (t) => {
  const res = await runCli(['config', 'check', '--file', await file('broken.json', `{"stores": {"s": {"secret": "${SECRET}"`)]);
  t.equal(res.code, 2);
  t.match(res.stderr, /is not valid JSON/);
  t.notOk(res.stderr.includes(SECRET));
});

t.test('the gateway reports the same gaps together when it loads its configuration', async (t) => {
  const err = t.throws(() => buildConfig(BAD, {}, dir)) as ConfigError;
  t.ok(err instanceof ConfigError);
  for (const gap of START_GAPS) t.ok(err.problems.some((p) => p.startsWith(gap)), gap);

  const start = spawn(process.execPath, ['--import', tsxImport, join(root, 'src/main.ts')], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', BLOBGATE_CONFIG: await file('start.json', BAD), BLOBGATE_DATA_DIR: join(dir, 'data'), BLOBGATE_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  start.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => start.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => start.once('close', resolve));
  clearTimeout(timer);
  t.equal(code, 2, 'npm start exits 2 before opening anything');
  for (const gap of START_GAPS) t.ok(stderr.includes(gap), `start: ${gap}`);
});
