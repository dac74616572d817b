import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LocalDriver } from '../../src/storage/local/local-driver.js';
import { patternStream } from '../helpers/bytes.js';

t.test('the local store sweeps expired blobs and keeps the rest', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-sweep-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const driver = await LocalDriver.open({ root: dir });
  const now = Date.parse('2026-11-22T12:00:00Z');
  const put = (key: string, expiresAt?: string) =>
    driver.write({ key, body: patternStream(10), maxBytes: 100, signal: new AbortController().signal, meta: { contentType: 'x/y', tier: expiresAt ? 'ephemeral' : 'retained', createdAt: '2026-11-21T00:00:00Z', ...(expiresAt ? { expiresAt } : {}) } });
  await put('workspaces/w/expired', '2026-11-22T11:59:59Z');
  await put('workspaces/w/live', '2026-11-22T12:00:01Z');
  await put('workspaces/w/retained');
  t.equal(await driver.sweepExpired(now), 1);
  await t.rejects(driver.head('workspaces/w/expired'), { code: 'not_found' });
  t.equal((await driver.head('workspaces/w/live')).meta.size, 10);
  t.equal((await driver.head('workspaces/w/retained')).meta.size, 10);
  t.equal(await driver.sweepExpired(now), 0, 'nothing more to sweep');
});
