import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildConfig, ConfigError, loadConfig, sha256Hex } from '../../src/config/load.js';
import { resolveConfigSecret } from '../../src/config/secret-ref.js';
import { startGateway } from '../helpers/gateway.js';

const root = new URL('../..', import.meta.url).pathname;
const dir = await mkdtemp(join(tmpdir(), 'bg-creds-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

const S3_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const PRIVATE_KEY = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const INLINE_SA = JSON.stringify({ type: 'service_account', client_email: 'bg@p.iam.gserviceaccount.com', private_key: PRIVATE_KEY });

/** Every problem of a config that must fail, as one string. */
function problems(t: Test, file: unknown, env: NodeJS.ProcessEnv = {}): string {
  const err = t.throws(() => buildConfig(file, env, dir)) as ConfigError;
  t.type(err, ConfigError);
  return err.message;
}

t.test('tokens[].token "env:NAME" authenticates with the variable\'s value, not the reference text', async (t) => {
  const value = 'token-from-the-environment-0001';
  const c = buildConfig({ tokens: [{ token: 'env:BG_TEST_API_TOKEN', workspaces: ['ws-1'] }] }, { BG_TEST_API_TOKEN: value }, dir);
  t.same(c.tokens, [{ sha256: sha256Hex(value), workspaces: ['ws-1'] }]);
  t.not(c.tokens[0]?.sha256, sha256Hex('env:BG_TEST_API_TOKEN'), 'the reference itself is no token');
  const unset = problems(t, { tokens: [{ token: 'env:BG_TEST_UNSET', workspaces: ['ws-1'] }] });
  t.match(unset, /tokens\.0\.token: config secret reference env:BG_TEST_UNSET: environment variable BG_TEST_UNSET is not set/);
});

t.test('a file: token works end to end; the reference string does not authenticate', async (t) => {
  const value = 'token-from-a-mounted-file-0002';
  await writeFile(join(dir, 'api-token'), `${value}\n`);
  const gw = await startGateway({ tokens: [{ token: `file:${join(dir, 'api-token')}`, workspaces: ['ws-1'] }] });
  t.teardown(() => gw.close());
  t.equal((await gw.call('GET', '/v1/workspaces/ws-1/resources', undefined, { token: value })).status, 200, 'the file\'s value is the token');
  const literal = await gw.call('GET', '/v1/workspaces/ws-1/resources', undefined, { token: `file:${join(dir, 'api-token')}` });
  t.equal(literal.status, 401);
  t.equal(literal.json.error.code, 'unauthorized');
});

t.test('BLOBGATE_TOKEN, the signing secret and the metrics token resolve references too', async (t) => {
  await writeFile(join(dir, 'signing'), 's'.repeat(40));
  const env = { BLOBGATE_TOKEN: 'env:BG_ALL', BG_ALL: 'all-workspaces-token-0003', BLOBGATE_SIGNING_SECRET: `file:${join(dir, 'signing')}` };
  const c = buildConfig({ metrics: { token: 'env:BG_METRICS' } }, { ...env, BG_METRICS: 'metrics-token-value-0004' }, dir);
  t.same(c.tokens, [{ sha256: sha256Hex('all-workspaces-token-0003'), workspaces: ['*'] }]);
  t.equal(c.signing.secret, 's'.repeat(40));
  t.equal(c.metrics.tokenSha256, sha256Hex('metrics-token-value-0004'));
  t.match(problems(t, { signing: { secret: `file:${join(dir, 'nope')}` } }), /signing\.secret: config secret reference file:.*nope: cannot be read \(ENOENT\)/);
});

t.test('no start-up message repeats a credential value', async (t) => {
  const s3 = { driver: 's3', bucket: 'b', credentials: { 'access-key-id': 'AKIAIOSFODNN7EXAMPLE0', 'secret-access-key': S3_SECRET } };
  const msg = problems(t, { stores: { s3, gcs: { driver: 'gcs', bucket: 'g', credentials: INLINE_SA } }, tiers: { retained: { store: 's3' }, ephemeral: { store: 's3' } } });
  t.match(msg, /stores\.s3\.credentials\.secret-access-key: must be a reference, "env:NAME" or "file:PATH"/);
  t.match(msg, /stores\.s3\.credentials\.access-key-id: must be a reference/);
  t.match(msg, /stores\.gcs\.credentials: must be a reference/);
  for (const value of [S3_SECRET, 'AKIAIOSFODNN7EXAMPLE0', 'PRIVATE KEY', 'service_account', 'gserviceaccount']) t.notOk(msg.includes(value), `not echoed: ${value}`);

  // A config file with a syntax error: V8's JSON message would quote the text around it.
  await writeFile(join(dir, 'broken.json'), `{"signing": {"secret": ${S3_SECRET}}}`);
  const err = t.throws(() => loadConfig({ BLOBGATE_CONFIG: 'broken.json' }, dir)) as ConfigError;
  t.match(err.message, /broken\.json\): is not valid JSON/);
  t.notOk(err.message.includes('wJalrXUtnF'), 'the file text is not quoted');

  // The registry's resolver, handed a value where a reference belongs.
  await t.rejects(resolveConfigSecret(S3_SECRET), { name: 'SecretRefError', message: /must be a reference/ });
  await resolveConfigSecret(INLINE_SA).catch((e: Error) => t.notOk(e.message.includes('PRIVATE KEY') || e.message.includes('service_account'), 'inline key not echoed'));
});

/** Runs src/main.ts with `env` and waits for it to exit (bounded). */
async function runMain(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts')], { cwd: root, env: { PATH: process.env.PATH, BLOBGATE_PORT: '0', BLOBGATE_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

t.test('main: an inline S3 secret in the config file exits 2 without printing it', async (t) => {
  const file = join(dir, 'inline.json');
  await writeFile(file, JSON.stringify({ stores: { s3: { driver: 's3', bucket: 'b', credentials: { 'access-key-id': 'env:BG_K', 'secret-access-key': S3_SECRET } } }, tiers: { retained: { store: 's3' }, ephemeral: { store: 's3' } } }));
  const res = await runMain({ BLOBGATE_CONFIG: file, BLOBGATE_DATA_DIR: join(dir, 'd1'), BG_K: 'x' });
  t.equal(res.code, 2, res.stderr);
  t.match(res.stderr, /secret-access-key: must be a reference/);
  t.notOk(`${res.stdout}${res.stderr}`.includes('wJalrXUtnF'), 'the secret is not printed');
});

t.test('main: a non-loopback address without a configured token refuses to start and prints no token', async (t) => {
  const dataDir = join(dir, 'd2');
  const res = await runMain({ BLOBGATE_HOST: '0.0.0.0', BLOBGATE_DATA_DIR: dataDir });
  t.equal(res.code, 2, res.stderr);
  t.match(res.stderr, /will not listen on 0\.0\.0\.0 without an API token/);
  t.match(res.stderr, /Set BLOBGATE_TOKEN/, 'says how to set one');
  t.equal(res.stdout, '', 'nothing on stdout (no generated token in container logs)');
  t.same(await readdir(dataDir).catch(() => []), [], 'no dev token generated');
});
