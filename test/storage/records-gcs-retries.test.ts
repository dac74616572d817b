import t from 'tap';
import { buildGcsStorage } from '../../src/storage/gcs/client.js';
import { GcsDriver } from '../../src/storage/gcs/gcs-driver.js';
import { FAST_RETRIES, startGcs } from '../gcs/harness.js';

// GCS records across a create whose answer was lost after GCS committed it:
// the client retries the save (ifGenerationMatch makes it idempotent to the
// client) and meets its own object, 412. src/storage/gcs/gcs-records.ts.
t.test('gcs records: retries', async (t) => {
  const gcs = await startGcs(t);
  const driver = (): GcsDriver =>
    new GcsDriver({
      storage: buildGcsStorage({ apiEndpoint: gcs.server.url, projectId: 'test', credentials: gcs.serviceAccount, retryTiming: FAST_RETRIES }),
      bucket: gcs.bucket,
      prefix: 'env-a',
    });
  const mine = driver();
  const theirs = driver();
  t.teardown(async () => {
    await mine.close();
    await theirs.close();
  });

  for (const fault of [503, 'drop'] as const) {
    t.test(`a create whose answer was lost (${fault}) after GCS committed it is true`, async (t) => {
      const key = `workspaces/ws/jobs/lost-${fault}.json`;
      const lost = gcs.server.failAfter('single-upload', fault);
      t.equal(await mine.records.create(key, Buffer.from('mine')), true, 'this call created it');
      t.equal(lost.hits, 1, 'the first answer was lost');
      t.equal((await theirs.records.get(key))?.toString(), 'mine');
      t.equal(await theirs.records.create(key, Buffer.from('theirs')), false, 'and it counts as there for everyone else');
    });
  }

  t.test("a lost answer does not make another writer's record ours", async (t) => {
    const key = 'workspaces/ws/jobs/theirs.json';
    t.equal(await theirs.records.create(key, Buffer.from('theirs')), true);
    t.equal(await mine.records.create(key, Buffer.from('mine')), false);
    t.equal((await mine.records.get(key))?.toString(), 'theirs');
  });

  t.test('a missing bucket is storage_error (not an absent record), without the backend message', async (t) => {
    const lost = new GcsDriver({ storage: gcs.storage, bucket: 'no-such-bucket', prefix: 'env-a' });
    t.teardown(() => lost.close());
    for (const [what, call] of [
      ['reading', () => lost.records.get('workspaces/ws/jobs/any.json')],
      ['creating', () => lost.records.create('workspaces/ws/jobs/any.json', Buffer.from('x'))],
      ['deleting', () => lost.records.delete('workspaces/ws/jobs/any.json')],
      ['listing', () => lost.records.list('workspaces/', { limit: 10 })],
    ] as const) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      t.match(err, { code: 'storage_error', message: `The GCS store failed while ${what} ${what === 'listing' ? 'records' : 'a record'}; see the server log.` }, what);
      t.notMatch((err as Error | undefined)?.message, /bucket does not exist|no-such-bucket|ws\/jobs/);
      t.ok((err as Error | undefined)?.cause, 'cause kept');
    }
  });
});
