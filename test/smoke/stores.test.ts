import t from 'tap';
import { formatReport, summaryLine } from '../../src/smoke/format.js';
import { runSmokeInProcess } from '../../src/smoke/in-process.js';
import { ROWS, startSmokeServers } from '../../support/smoke-servers.js';

t.test('smoke over a local store, S3 behind the SigV4-verifying proxy and the verifying GCS server: every row passes', async (t) => {
  const servers = await startSmokeServers();
  t.teardown(() => servers.stop());
  const seen: string[] = [];
  const report = await runSmokeInProcess({ config: servers.config(), onRow: (store, row) => seen.push(`${store}/${row.check}`) });

  t.same(report.stores.map((s) => [s.store, s.backend]), [['local', 'local'], ['s3', 's3'], ['gcs', 'gcs']]);
  for (const s of report.stores) {
    t.same(s.rows.map((r) => r.check), ROWS, `${s.store}: every check, in order`);
    t.same(s.rows.filter((r) => r.ok !== true).map((r) => `${r.check}: ${r.detail}`), [], `${s.store}: every row PASS`);
    t.match(s.prefix, /^workspaces\/_smoke\/[0-9a-f-]{36}\/$/);
    for (const r of s.rows) t.ok(Number.isInteger(r.ms) && r.ms >= 0, `${s.store}/${r.check} is timed`);
  }
  t.equal(seen.length, 33, 'onRow reported each row as it completed');
  t.same({ passed: report.passed, failed: report.failed, notEnforced: report.notEnforced }, { passed: 33, failed: 0, notEnforced: 0 });

  const detail = (store: string, check: string): string => report.stores.find((s) => s.store === store)!.rows.find((r) => r.check === check)!.detail ?? '';
  // The signed URL of each store is its own kind, fetched without credentials; tampering is refused by the backend.
  t.match(detail('local', 'signed url'), /^blobgate-signed URL: HTTP 200, 4096 bytes identical/);
  t.match(detail('s3', 'signed url'), /^S3 presigned URL: HTTP 200/);
  t.match(detail('gcs', 'signed url'), /^GCS V4 signed URL: HTTP 200/);
  t.match(detail('local', 'tampered url'), /refused: HTTP 403 \(signature altered\)/);
  t.match(detail('s3', 'tampered url'), /refused: HTTP 403 \(X-Amz-Signature altered\)/);
  t.match(detail('gcs', 'tampered url'), /refused: HTTP 403 \(X-Goog-Signature altered\)/);
  t.ok((servers.s3.proxy.rejected.get('SignatureDoesNotMatch') ?? 0) >= 1, 'the proxy, not fauxqs, refused the tampered URL');
  t.match(detail('s3', 'write parts'), /^25165831 bytes \(3 × 8388608 \+ 7\), read back identical/);
  t.match(detail('gcs', 'over-cap write'), /refused \(cap_exceeded\)/);

  t.same(await servers.residue(), { local: [], s3: [], gcs: [] }, 'nothing left: no object, multipart upload, session or temp file');

  const text = formatReport(report);
  t.match(text.split('\n')[0], /^store\s+check\s+result\s+ms\s+detail$/);
  t.equal(text.split('\n').length, 1 + 33 + 1);
  t.equal(text.split('\n').at(-1), 'smoke: 33 passed, 0 failed');
  t.equal(summaryLine(report), 'smoke: 33 passed, 0 failed');
});
