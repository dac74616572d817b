import t from 'tap';
import { smokeCommand } from '../../src/smoke/command.js';
import { runSmokeInProcess } from '../../src/smoke/in-process.js';
import type { SmokeStoreReport } from '../../src/smoke/run.js';
import { ROWS, closedPort, startSmokeServers } from '../../support/smoke-servers.js';

const row = (s: SmokeStoreReport, check: string) => s.rows.find((r) => r.check === check)!;

t.test('a store that cannot be reached is one FAIL row with the cause; the working store still runs every check', async (t) => {
  const servers = await startSmokeServers();
  t.teardown(() => servers.stop());
  const port = await closedPort();
  process.env.BG_SMOKE_WRONG_SECRET = 'not-the-secret';
  t.teardown(() => delete process.env.BG_SMOKE_WRONG_SECRET);
  const s3 = servers.stores.s3 as { credentials: Record<string, string> };
  const config = servers.config({
    local: servers.stores.local!,
    's3-closed': { ...servers.stores.s3, endpoint: `http://127.0.0.1:${port}` },
    'gcs-nobucket': { ...servers.stores.gcs, bucket: 'no-such-bucket' },
    's3-denied': { ...servers.stores.s3, credentials: { ...s3.credentials, 'secret-access-key': 'env:BG_SMOKE_WRONG_SECRET' } },
    's3-nocreds': { ...servers.stores.s3, credentials: { 'access-key-id': 'env:BG_SMOKE_UNSET_KEY', 'secret-access-key': 'env:BG_SMOKE_UNSET_KEY' } },
  });
  const report = await runSmokeInProcess({ config });
  t.same(report.stores.map((s) => s.store), ['local', 's3-closed', 'gcs-nobucket', 's3-denied', 's3-nocreds'], 'in config order');
  const [local, closed, nobucket, denied, nocreds] = report.stores as [SmokeStoreReport, SmokeStoreReport, SmokeStoreReport, SmokeStoreReport, SmokeStoreReport];

  t.same(local.rows.map((r) => r.check), ROWS, 'the working store runs every check');
  t.same(local.rows.filter((r) => r.ok !== true), [], 'and passes every row');

  const only = (s: SmokeStoreReport) => s.rows.map((r) => [r.check, r.ok]);
  t.same(only(closed), [['ping', false]], 'S3 endpoint on a closed port: one row');
  t.equal(row(closed, 'ping').detail, `unreachable — connect ECONNREFUSED 127.0.0.1:${port}`);

  t.same(only(nobucket), [['ping', false]], 'GCS bucket that does not exist: one row');
  t.equal(row(nobucket, 'ping').detail, "bucket missing — HTTP 404: The specified bucket does not exist. (blobgate never creates buckets: create it, or correct the store's bucket name)");
  t.same(servers.gcs.objectNames('no-such-bucket'), [], 'no bucket was created by the attempt');

  t.same(only(denied), [['ping', false]], 'S3 credentials the store refuses: one row');
  t.equal(row(denied, 'ping').detail, "access denied — HTTP 403 (check the store's credentials and their permissions)");

  t.same(only(nocreds), [['open store', false]], 'credentials that cannot be resolved: one "open store" row');
  t.equal(nocreds.backend, 's3');
  t.equal(row(nocreds, 'open store').detail, 'config secret reference env:BG_SMOKE_UNSET_KEY: environment variable BG_SMOKE_UNSET_KEY is not set');

  for (const s of [closed, nobucket, denied, nocreds]) t.notMatch(s.rows[0]!.detail ?? '', /\n|    at /, `${s.store}: one line, no stack`);
  t.same({ passed: report.passed, failed: report.failed }, { passed: 11, failed: 4 });
  t.same(await servers.residue(), { local: [], s3: [], gcs: [] }, 'nothing left anywhere');
});

t.test('blobgate smoke exits 1 on a failure and prints the table; usage errors exit 2', async (t) => {
  const servers = await startSmokeServers();
  t.teardown(() => servers.stop());
  const port = await closedPort();
  const config = servers.config({ local: servers.stores.local!, broken: { ...servers.stores.s3, endpoint: `http://127.0.0.1:${port}` } });
  const io = () => {
    const io = { out: '', err: '' };
    return {
      io,
      streams: {
        stdout: { write: (s: string) => ((io.out += s), true) } as unknown as NodeJS.WritableStream,
        stderr: { write: (s: string) => ((io.err += s), true) } as unknown as NodeJS.WritableStream,
        env: {},
        cwd: servers.dir,
        config,
      },
    };
  };

  const all = io();
  t.equal(await smokeCommand({ all: true }, all.streams), 1);
  t.match(all.io.out, new RegExp(`^broken \\(s3\\)\\s+ping\\s+FAIL\\s+\\d+\\s+unreachable — connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`, 'm'));
  t.equal(all.io.out.split('\n').filter((l) => l.startsWith('broken ')).length, 1, 'one row for the unreachable store');
  t.match(all.io.out, /^local \(local\)\s+delete\s+PASS/m);
  t.match(all.io.out, /\nsmoke: 11 passed, 1 failed\n$/);
  t.equal(all.io.err, '');

  const one = io();
  t.equal(await smokeCommand({ store: ['local'] }, one.streams), 0, '--store picks one store');
  t.notMatch(one.io.out, /broken/);
  t.match(one.io.out, /\nsmoke: 11 passed, 0 failed\n$/);

  const unknown = io();
  t.equal(await smokeCommand({ store: ['nope'] }, unknown.streams), 2);
  t.equal(unknown.io.err, 'error: invalid_request: no store named "nope" is configured (stores: local, broken)\n');
  t.equal(unknown.io.out, '');

  const both = io();
  t.equal(await smokeCommand({ store: ['local'], all: true }, both.streams), 2);
  t.match(both.io.err, /give --store NAME or --all, not both/);

  const badConfig = io();
  const { config: _unused, ...noConfig } = badConfig.streams;
  t.equal(await smokeCommand({}, { ...noConfig, env: { BLOBGATE_CONFIG: 'missing.json' } }), 2);
  t.match(badConfig.io.err, /^Invalid configuration:\n  - BLOBGATE_CONFIG \(missing\.json\): ENOENT/);

  t.same(await servers.residue(), { local: [], s3: [], gcs: [] });
});
