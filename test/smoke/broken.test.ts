import t from 'tap';
import { smokeCommand } from '../../src/smoke/command.js';
import { runSmokeInProcess } from '../../src/smoke/in-process.js';
import type { SmokeStoreReport } from '../../src/smoke/run.js';
import { ROWS, closedPort, startSmokeServers } from './servers.js';

const row = (s: SmokeStoreReport, check: string) => s.rows.find((r) => r.check === check)!;

t.test('broken store configs give clear FAIL rows, never a throw, and the run fails', async (t) => {
  const servers = await startSmokeServers();
  t.teardown(() => servers.stop());
  const port = await closedPort();
  const config = servers.config({
    local: servers.stores.local!,
    's3-closed': { ...servers.stores.s3, endpoint: `http://127.0.0.1:${port}` },
    'gcs-nobucket': { ...servers.stores.gcs, bucket: 'no-such-bucket' },
    's3-nocreds': { ...servers.stores.s3, credentials: { 'access-key-id': 'env:BG_SMOKE_UNSET_KEY', 'secret-access-key': 'env:BG_SMOKE_UNSET_KEY' } },
  });
  const started = Date.now();
  const report = await runSmokeInProcess({ config });
  t.ok(Date.now() - started < 30_000, 'a broken store fails fast');
  t.same(report.stores.map((s) => s.store), ['local', 's3-closed', 'gcs-nobucket', 's3-nocreds'], 'in config order');
  const [local, closed, nobucket, nocreds] = report.stores as [SmokeStoreReport, SmokeStoreReport, SmokeStoreReport, SmokeStoreReport];

  t.same(local.rows.filter((r) => r.ok !== true), [], 'the working store still passes every row');

  t.test('S3 endpoint on a closed port', async (t) => {
    t.same(closed.rows.map((r) => r.check), ROWS, 'every row is reported');
    t.same(closed.rows.filter((r) => r.ok !== false).map((r) => r.check), [], 'every row FAILs');
    t.match(row(closed, 'write small').detail, new RegExp(`^storage_error: .*writing …/small\\.bin.* — cause: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`));
    t.match(row(closed, 'list').detail, /^storage_error: The S3 store failed while listing …\/\. — cause: connect ECONNREFUSED/);
    t.match(row(closed, 'ranged read').detail, /^not run: needs the object of "write small", which failed$/);
    t.match(row(closed, 'delete').detail, /^not run: no object was written$/);
    t.match(row(closed, 'cleanup').detail, /^could not verify that nothing is left under workspaces\/_smoke\/.*ECONNREFUSED/);
    for (const r of closed.rows) t.notMatch(r.detail ?? '', /\n|    at /, `${r.check}: one line, no stack`);
  });

  t.test('GCS bucket that does not exist', async (t) => {
    t.same(nobucket.rows.map((r) => r.check), ROWS);
    t.same(nobucket.rows.filter((r) => r.ok !== false).map((r) => r.check), []);
    t.match(row(nobucket, 'write small').detail, /^storage_error: .* — cause: HTTP 404: The specified bucket does not exist\.$/);
    t.match(row(nobucket, 'list').detail, /^storage_error: The GCS store failed while listing …\/\. — cause: HTTP 404: The specified bucket does not exist\.$/);
    t.same(servers.gcs.objectNames('no-such-bucket'), [], 'no bucket was created by the attempt');
  });

  t.test('credentials that cannot be resolved: one "open store" row', async (t) => {
    t.same(nocreds.rows.map((r) => [r.check, r.ok]), [['open store', false]]);
    t.equal(nocreds.backend, 's3');
    t.equal(row(nocreds, 'open store').detail, 'config secret reference env:BG_SMOKE_UNSET_KEY: environment variable BG_SMOKE_UNSET_KEY is not set');
  });

  t.equal(report.failed, 11 + 11 + 1);
  t.equal(report.passed, 11);
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
  t.match(all.io.out, /^broken \(s3\)\s+write small\s+FAIL\s+\d+\s+storage_error: .*ECONNREFUSED/m);
  t.match(all.io.out, /^local \(local\)\s+delete\s+PASS/m);
  t.match(all.io.out, /\nsmoke: 11 passed, 11 failed\n$/);
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
