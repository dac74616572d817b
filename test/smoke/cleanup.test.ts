import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BlobgateError } from '../../src/errors.js';
import { runSmokeInProcess } from '../../src/smoke/in-process.js';
import { runSmoke, type SmokeStoreReport } from '../../src/smoke/run.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { LocalDriver } from '../../src/storage/local/local-driver.js';
import { StoreRegistry } from '../../src/storage/registry.js';
import { ROWS, startSmokeServers } from '../../support/smoke-servers.js';

const results = (s: SmokeStoreReport) => Object.fromEntries(s.rows.map((r) => [r.check, r.ok]));

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const tree of ['objects', 'meta', 'tmp']) {
    const entries = await readdir(join(root, tree), { recursive: true, withFileTypes: true }).catch(() => []);
    out.push(...entries.filter((e) => e.isFile()).map((e) => `${tree}/${e.name}`));
  }
  return out;
}

t.test('failing checks in the middle of a run: the cleanup still removes everything written', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'bg-smoke-flaky-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const inner = await LocalDriver.open({ root });
  // The first delete fails (the delete check FAILs with both objects still there), and the first list hangs (timed out).
  let deleteFailures = 1;
  let listHangs = 1;
  const flaky: StorageDriver = {
    backend: inner.backend,
    bucket: inner.bucket,
    // It answers the probe: what follows fails check by check, each its own row.
    ping: () => inner.ping(),
    write: (req) => inner.write(req),
    head: (key) => inner.head(key),
    read: (key, range) => inner.read(key, range),
    list: (req) => (listHangs-- > 0 ? new Promise(() => undefined) : inner.list(req)),
    delete: async (key) => {
      if (deleteFailures-- > 0) throw new BlobgateError('storage_error', 'injected delete failure');
      return inner.delete(key);
    },
    close: () => inner.close(),
  };
  const report = await runSmoke({
    stores: StoreRegistry.of({ flaky }),
    storeNames: ['flaky'],
    signer: async (store, key) => `http://127.0.0.1:9/v1/signed/${store}/${key}?expires=1&signature=${'0'.repeat(64)}`,
    // Every signed URL answers 500: the signed and the tampered rows FAIL.
    fetch: async () => new Response('injected', { status: 500 }),
    // 1 MiB "parts": the writes stay small (3 MiB + 7), so the real checks finish well inside the time
    // limit on a loaded 2-core machine (the 24 MiB of the default unit timed out at load 38); the list hangs for good.
    unitBytes: { flaky: 1024 * 1024 },
    checkTimeoutMs: 4000,
  });
  const [s] = report.stores as [SmokeStoreReport];
  t.same(s.rows.map((r) => r.check), ROWS);
  t.same(results(s), {
    'write small': true,
    'write parts': true,
    'ranged read': true,
    head: true,
    list: false,
    'signed url': false,
    'tampered url': false,
    'over-cap write': true,
    'aborted write': true,
    delete: false,
    cleanup: true,
  });
  const detail = (check: string) => s.rows.find((r) => r.check === check)!.detail;
  t.equal(detail('list'), 'timed out after 4 s');
  t.equal(detail('signed url'), 'HTTP 500 for the signed URL: injected');
  t.equal(detail('tampered url'), 'HTTP 500 with signature altered, expected 400, 401 or 403: injected');
  t.equal(detail('delete'), 'storage_error: injected delete failure');
  t.match(detail('cleanup'), /^removed 2 leftover objects; nothing left under workspaces\/_smoke\/[0-9a-f-]{36}\/$/);
  t.same({ failed: report.failed, passed: report.passed }, { failed: 4, passed: 7 });
  t.same(await filesUnder(root), [], 'no object, meta or temp file left');
});

t.test('an interrupted run (Ctrl-C) stops the checks, aborts the write in flight and still cleans up', async (t) => {
  const servers = await startSmokeServers();
  t.teardown(() => servers.stop());
  const interrupt = new AbortController();
  const report = await runSmokeInProcess({
    config: servers.config({ s3: servers.stores.s3!, gcs: servers.stores.gcs! }),
    signal: interrupt.signal,
    // Interrupt as soon as the first write landed: "write parts" is in flight (a multipart upload under way).
    onRow: (_store, row) => {
      if (row.check === 'write small') setTimeout(() => interrupt.abort(), 30);
    },
  });
  t.equal(report.stores.length, 1, 'the next store is not started');
  const [s] = report.stores as [SmokeStoreReport];
  t.same(s.rows.map((r) => [r.check, r.ok, r.check === 'write parts' ? r.detail : undefined]), [
    ['write small', true, undefined],
    ['write parts', false, 'interrupted'],
    ['cleanup', true, undefined],
  ]);
  t.same(await servers.residue(), { local: [], s3: [], gcs: [] }, 'no object and no multipart upload left');
});
