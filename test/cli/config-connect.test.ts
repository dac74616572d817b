import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { closedPort, startSmokeServers } from '../../support/smoke-servers.js';
import { TEST_CREDENTIALS } from '../../support/servers/s3/clients.js';
import { runCli } from './_cli.js';

// `blobgate config check --connect` against the harness servers: fauxqs
// behind the SigV4-verifying front, the project's GCS server and a local
// store, plus stores that fail in the ways an operator meets first — an
// endpoint nothing listens on, a bucket that does not exist, a secret the
// store refuses. Each store gets its own row; nothing is left behind and no
// credential is printed.

const servers = await startSmokeServers();
t.teardown(() => servers.stop());
const WRONG = 'wrong-secret-value-0123456789';
const env = { BG_SMOKE_S3_KEY: TEST_CREDENTIALS.accessKeyId, BG_SMOKE_S3_SECRET: TEST_CREDENTIALS.secretAccessKey, BG_WRONG_SECRET: WRONG };
const s3 = servers.stores.s3 as { credentials: Record<string, string> };

async function configFile(name: string, stores: Record<string, Record<string, unknown>>): Promise<string> {
  const first = Object.keys(stores)[0]!;
  const file = join(servers.dir, name);
  await writeFile(file, JSON.stringify({ 'data-dir': join(servers.dir, 'data'), stores, tiers: { retained: { store: first }, ephemeral: { store: first } } }));
  return file;
}

type Probe = { store: string; backend: string; ok: boolean; steps: Array<{ step: string; ok: boolean; detail?: string }> };

t.test('every store reachable: exit 0, each store opened, reached, written, read and deleted', async (t) => {
  const file = await configFile('good.json', { local: servers.stores.local!, s3: servers.stores.s3!, gcs: servers.stores.gcs! });
  const text = await runCli(['config', 'check', '--file', file, '--connect'], { env, timeoutMs: 120_000 });
  t.equal(text.code, 0, text.stderr);
  const out = text.stdout.toString();
  for (const line of [/ok {3}local \(local\): open, reach, write, read, delete ok/, /ok {3}s3 \(s3, bucket bg-smoke\): open, reach, write, read, delete ok/, /ok {3}gcs \(gcs, bucket bg-smoke\): open, reach, write, read, delete ok/]) t.match(out, line);

  const json = await runCli(['config', 'check', '--file', file, '--connect', '--json'], { env, timeoutMs: 120_000 });
  t.equal(json.code, 0, json.stderr);
  const body = JSON.parse(json.stdout.toString()) as { valid: boolean; stores: Probe[] };
  t.equal(body.valid, true);
  t.same(body.stores.map((s) => [s.store, s.backend, s.ok, s.steps.map((x) => x.step)]), [
    ['local', 'local', true, ['open', 'reach', 'write', 'read', 'delete']],
    ['s3', 's3', true, ['open', 'reach', 'write', 'read', 'delete']],
    ['gcs', 'gcs', true, ['open', 'reach', 'write', 'read', 'delete']],
  ]);
  t.same(await servers.residue(), { local: [], s3: [], gcs: [] }, 'the probe objects are gone');
});

t.test('an unreachable endpoint, a missing bucket and a refused secret: one failed row each, exit 1, no secret printed', async (t) => {
  const port = await closedPort();
  const file = await configFile('bad.json', {
    s3: servers.stores.s3!,
    's3-closed': { ...servers.stores.s3, endpoint: `http://127.0.0.1:${port}` },
    'gcs-nobucket': { ...servers.stores.gcs, bucket: 'no-such-bucket' },
    's3-denied': { ...servers.stores.s3, credentials: { ...s3.credentials, 'secret-access-key': 'env:BG_WRONG_SECRET' } },
  });
  const res = await runCli(['config', 'check', '--file', file, '--connect', '--json'], { env, timeoutMs: 180_000 });
  t.equal(res.code, 1, 'a store failed: exit 1');
  const stores = (JSON.parse(res.stdout.toString()) as { stores: Probe[] }).stores;
  const by = (name: string): Probe => stores.find((s) => s.store === name)!;
  t.equal(by('s3').ok, true, 'the working store still passes');
  const failedAt = (p: Probe) => p.steps.map((s) => `${s.step}:${s.ok ? 'ok' : 'fail'}`);
  t.same(failedAt(by('s3-closed')), ['open:ok', 'reach:fail'], 'closed port: reached nothing, wrote nothing');
  t.match(by('s3-closed').steps[1]!.detail, /ECONNREFUSED/);
  t.same(failedAt(by('gcs-nobucket')), ['open:ok', 'reach:fail']);
  t.match(by('gcs-nobucket').steps[1]!.detail, /^bucket missing: .*blobgate never creates buckets/);
  t.same(servers.gcs.objectNames('no-such-bucket'), [], 'no bucket was created');
  t.same(failedAt(by('s3-denied')), ['open:ok', 'reach:fail']);
  t.match(by('s3-denied').steps[1]!.detail, /403/);
  const all = res.stdout.toString() + res.stderr;
  for (const secret of [TEST_CREDENTIALS.secretAccessKey, WRONG, servers.serviceAccount.private_key.split('\n')[1]!]) t.notOk(all.includes(secret), 'no credential value in the output');

  const text = await runCli(['config', 'check', '--file', file, '--connect'], { env, timeoutMs: 180_000 });
  t.equal(text.code, 1);
  t.match(text.stdout.toString(), /FAIL s3-closed \(s3, bucket bg-smoke\): open ok\n {7}reach failed: .*ECONNREFUSED/);
  t.same(await servers.residue(), { local: [], s3: [], gcs: [] });
});

t.test('an invalid configuration is reported and nothing is connected: exit 2', async (t) => {
  const file = await configFile('invalid.json', { s3: { ...servers.stores.s3, credentials: { 'access-key-id': 'env:BG_UNSET_KEY', 'secret-access-key': 'env:BG_UNSET_KEY' } } });
  const res = await runCli(['config', 'check', '--file', file, '--connect'], { env });
  t.equal(res.code, 2);
  t.match(res.stderr, /stores\.s3\.credentials\.access-key-id: .*BG_UNSET_KEY is not set/);
  t.equal(res.stdout.toString(), '', 'no probe ran');
});
