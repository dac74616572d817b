import t from 'tap';
import { smokeCommand } from '../../src/smoke/command.js';
import type { SmokeReport } from '../../src/smoke/run.js';
import { ROWS, startSmokeServers } from '../../support/smoke-servers.js';

t.test('fauxqs without the proxy does not check signatures: the tampered row is "not enforced", not a failure', async (t) => {
  const servers = await startSmokeServers();
  t.teardown(() => servers.stop());
  let out = '';
  const code = await smokeCommand(
    { json: true },
    { stdout: { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream, stderr: process.stderr, env: {}, cwd: servers.dir, config: servers.config({ fauxqs: servers.s3Direct() }) },
  );
  t.equal(code, 0, 'exit 0: not enforced is reported, not failed');
  const report = JSON.parse(out) as SmokeReport;
  t.equal(report.stores.length, 1);
  const rows = report.stores[0]!.rows;
  t.same(rows.map((r) => r.check), ROWS);
  const tampered = rows.find((r) => r.check === 'tampered url')!;
  t.equal(tampered.ok, 'not-enforced');
  t.match(tampered.detail, /^not enforced by this backend \(HTTP 200 with X-Amz-Signature altered\)$/);
  t.same(rows.filter((r) => r.check !== 'tampered url' && r.ok !== true), [], 'every other row passes');
  t.same({ passed: report.passed, failed: report.failed, notEnforced: report.notEnforced }, { passed: 10, failed: 0, notEnforced: 1 });
  t.same(await servers.residue(), { local: [], s3: [], gcs: [] });

  let table = '';
  const again = await smokeCommand(
    {},
    { stdout: { write: (s: string) => ((table += s), true) } as unknown as NodeJS.WritableStream, stderr: process.stderr, env: {}, cwd: servers.dir, config: servers.config({ fauxqs: servers.s3Direct() }) },
  );
  t.equal(again, 0);
  t.match(table, /^fauxqs \(s3\)\s+tampered url\s+N-E\s+\d+\s+not enforced by this backend/m);
  t.match(table, /\nsmoke: 10 passed, 0 failed, 1 not enforced\n$/);
  t.same(await servers.residue(), { local: [], s3: [], gcs: [] });
});
