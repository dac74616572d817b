import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Test } from 'tap';
import type { WriteRequest } from '../../src/storage/driver.js';
import { LocalDriver } from '../../src/storage/local/local-driver.js';

/** A local store in a fresh temp directory, closed and removed when the test ends. */
export async function tempLocalStore(t: Test, opts: { prefix?: string } = {}): Promise<{ root: string; driver: LocalDriver }> {
  const root = await mkdtemp(join(tmpdir(), 'bg-local-'));
  const driver = await LocalDriver.open({ root, ...(opts.prefix ? { prefix: opts.prefix } : {}) });
  t.teardown(async () => {
    await driver.close();
    await rm(root, { recursive: true, force: true });
  });
  return { root, driver };
}

/** A driver write of `body` at `key` with retained-tier meta and a 1 GiB cap; `extra` overrides (expectedSize, signal …). */
export function writeRequest(key: string, body: Readable, extra: Partial<WriteRequest> = {}): WriteRequest {
  return {
    key,
    body,
    maxBytes: 1 << 30,
    meta: { contentType: 'application/octet-stream', tier: 'retained', createdAt: new Date().toISOString() },
    signal: new AbortController().signal,
    ...extra,
  };
}
