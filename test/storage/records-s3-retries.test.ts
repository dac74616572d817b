import t from 'tap';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { CONFLICT_ATTEMPTS } from '../../src/storage/s3/s3-records.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';

// S3 records across the answers that are not plain 200/412: a create whose
// answer was lost after S3 committed it (the SDK retries and meets its own
// object: 412), and 409 ConditionalRequestConflict (retried: it does not say
// that another writer won). src/storage/s3/s3-records.ts.
const bucket = 'bg-records-retries';

t.test('s3 records: retries and conflicts', async (t) => {
  const s3 = await startProxiedS3(bucket);
  t.teardown(() => s3.stop());
  const driver = new S3Driver({ client: s3.client(), bucket, prefix: 'env-a' });
  const other = new S3Driver({ client: s3.client(), bucket, prefix: 'env-a' });
  t.teardown(async () => {
    await driver.close();
    await other.close();
  });
  const records = driver.records;

  for (const fault of [500, 503, 'drop'] as const) {
    t.test(`a create whose answer was lost (${fault}) after S3 committed it is true`, async (t) => {
      const key = `workspaces/ws/jobs/lost-${fault}.json`;
      const lost = s3.server.failAfter('PutObject', fault);
      t.equal(await records.create(key, Buffer.from('mine')), true, 'this call created it');
      t.equal(lost.hits, 1, 'the first answer was lost');
      t.equal((await records.get(key))?.toString(), 'mine');
      t.equal(await other.records.create(key, Buffer.from('theirs')), false, 'and it counts as there for everyone else');
    });
  }

  t.test("a lost answer does not make another writer's record ours", async (t) => {
    const key = 'workspaces/ws/jobs/theirs.json';
    t.equal(await other.records.create(key, Buffer.from('theirs')), true);
    const lost = s3.server.failAfter('PutObject', 500);
    t.equal(await records.create(key, Buffer.from('mine')), false);
    t.equal(lost.hits, 1, "the first 412 was lost too; the retry's 412 reads the same");
    t.equal((await records.get(key))?.toString(), 'theirs');
  });

  t.test('409 ConditionalRequestConflict is retried: the record is created', async (t) => {
    const key = 'workspaces/ws/jobs/conflict.json';
    const conflicts = s3.server.conditionalConflicts(CONFLICT_ATTEMPTS - 1);
    t.equal(await records.create(key, Buffer.from('after conflicts')), true);
    t.equal(conflicts.hits, CONFLICT_ATTEMPTS - 1);
    t.equal((await other.records.get(key))?.toString(), 'after conflicts');
  });

  t.test('409 then an existing record: false, the record untouched', async (t) => {
    const key = 'workspaces/ws/jobs/conflict-existing.json';
    await other.records.create(key, Buffer.from('first'));
    const conflicts = s3.server.conditionalConflicts(1);
    t.equal(await records.create(key, Buffer.from('second')), false);
    t.equal(conflicts.hits, 1);
    t.equal((await records.get(key))?.toString(), 'first');
  });

  t.test('409 on every attempt: storage_error, nothing written, no backend text', async (t) => {
    const key = 'workspaces/ws/jobs/conflict-forever.json';
    const conflicts = s3.server.conditionalConflicts(CONFLICT_ATTEMPTS);
    const err = await records.create(key, Buffer.from('x')).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.match(err, { code: 'storage_error', message: 'The S3 store failed while creating a record; see the server log.' });
    t.match((err as Error).cause, { name: 'ConditionalRequestConflict' }, 'the SDK error is kept as cause');
    t.equal(conflicts.hits, CONFLICT_ATTEMPTS);
    t.equal(await records.get(key), undefined);
  });

  t.test('a failing store is storage_error without the backend message', async (t) => {
    s3.server.fail('GetObject', 500, { times: 3 }); // every attempt the SDK makes
    const err = await records.get('workspaces/ws/jobs/any.json').then(
      () => undefined,
      (e: unknown) => e,
    );
    t.match(err, { code: 'storage_error', message: 'The S3 store failed while reading a record; see the server log.' });
    t.notMatch((err as Error).message, /injected|InternalError|ws\/jobs/);
    t.ok((err as Error).cause, 'cause kept');
    s3.server.clearFaults();
  });
});
