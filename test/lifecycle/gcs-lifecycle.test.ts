import type { LifecycleRule } from '@google-cloud/storage';
import t from 'tap';
import { BlobgateError } from '../../src/errors.js';
import { buildGcsStorage } from '../../src/storage/gcs/client.js';
import { gcsStatus } from '../../src/storage/gcs/gcs-errors.js';
import { startGcs } from '../gcs/harness.js';

// GcsDriver.installLifecycle() against the project's GCS test server: our
// rules land in the bucket's lifecycle configuration next to the rules of
// others, scoped to the store prefix, once however often it runs, without
// losing a concurrent change (ifMetagenerationMatch). Assertions read the
// configuration the server stored, not only what the driver returned.

const gcs = await startGcs(t);
const storage = buildGcsStorage({ apiEndpoint: gcs.server.url, projectId: 'test', credentials: gcs.serviceAccount });

let buckets = 0;
/** A fresh bucket for each test: the lifecycle configuration is per bucket. */
function newBucket(): string {
  const name = `lc-bucket-${++buckets}`;
  gcs.server.createBucket(name);
  return name;
}

const stored = (bucket: string): unknown[] => gcs.server.bucketLifecycle(bucket)?.rule ?? [];

const FOREIGN: LifecycleRule = { action: { type: 'Delete' }, condition: { age: 30, matchesPrefix: ['logs/'] } };
const staging = (prefix: string): LifecycleRule => ({ action: { type: 'Delete' }, condition: { age: 1, matchesPrefix: [`${prefix}.blobgate-staging/`] } });

/** Adds a rule the way an operator's tooling would: through the client library. */
async function addForeign(bucket: string, rule: LifecycleRule = FOREIGN): Promise<void> {
  await storage.bucket(bucket).addLifecycleRule(rule);
}

t.test('our rule is added beside a foreign rule, which is kept; no expire rule without expireAfterDays', async (t) => {
  const bucket = newBucket();
  await addForeign(bucket);
  t.same(stored(bucket), [FOREIGN], 'the foreign rule is on the server');
  const result = await gcs.driver({ bucket }).installLifecycle({});
  t.same(stored(bucket), [FOREIGN, staging('')]);
  t.same(result.rules, ['delete .blobgate-staging/* at age 1 day']);
  const [metadata] = await storage.bucket(bucket).getMetadata();
  t.same(metadata.lifecycle?.rule, [FOREIGN, staging('')], 'the bucket resource carries the rules');
});

t.test('installing again adds no duplicates; dropping expireAfterDays removes the expire rule', async (t) => {
  const bucket = newBucket();
  await addForeign(bucket);
  const driver = gcs.driver({ bucket });
  await driver.installLifecycle({ expireAfterDays: 1 });
  const everything = { action: { type: 'Delete' }, condition: { age: 1 } };
  t.same(stored(bucket), [FOREIGN, staging(''), everything], 'for an empty store prefix the expire rule has no matchesPrefix');
  await driver.installLifecycle({ expireAfterDays: 1 });
  await gcs.driver({ bucket }).installLifecycle({ expireAfterDays: 1 }); // a second replica starting
  t.same(stored(bucket), [FOREIGN, staging(''), everything], 'the same rules, once each');

  await driver.installLifecycle({ expireAfterDays: 3 });
  t.same(stored(bucket), [FOREIGN, staging(''), { action: { type: 'Delete' }, condition: { age: 3 } }], 'new days replace the old');

  await driver.installLifecycle({});
  t.same(stored(bucket), [FOREIGN, staging('')], 'the expire rule is gone, the foreign rule kept');
});

t.test('with a store prefix every rule of ours is scoped under it; look-alike rules of others are kept', async (t) => {
  const bucket = newBucket();
  // Rules that touch the store prefix but are not of our shape: a suffix condition, another action, two prefixes.
  const lookAlikes: LifecycleRule[] = [
    { action: { type: 'Delete' }, condition: { age: 7, matchesPrefix: ['env-a/'], matchesSuffix: ['.tmp'] } },
    { action: { type: 'SetStorageClass', storageClass: 'NEARLINE' }, condition: { age: 30, matchesPrefix: ['env-a/'] } },
    { action: { type: 'Delete' }, condition: { age: 1, matchesPrefix: ['env-a/.blobgate-staging/', 'other/'] } },
    { action: { type: 'Delete' }, condition: { age: 9 } }, // the whole bucket: not this store's rule
  ];
  for (const rule of lookAlikes) await addForeign(bucket, rule);
  const result = await gcs.driver({ bucket, prefix: 'env-a' }).installLifecycle({ expireAfterDays: 2 });
  const expire = { action: { type: 'Delete' }, condition: { age: 2, matchesPrefix: ['env-a/'] } };
  t.same(stored(bucket), [...lookAlikes, staging('env-a/'), expire]);
  t.same(result.rules, ['delete env-a/.blobgate-staging/* at age 1 day', 'delete env-a/* at age 2 days']);
  await gcs.driver({ bucket, prefix: 'env-a/' }).installLifecycle({ expireAfterDays: 2 });
  t.same(stored(bucket), [...lookAlikes, staging('env-a/'), expire], 'idempotent under the prefix too');
});

t.test('two stores sharing a bucket install at once and both keep their rules (ifMetagenerationMatch, retried on 412)', async (t) => {
  const bucket = newBucket();
  await addForeign(bucket);
  await Promise.all([
    gcs.driver({ bucket, prefix: 'retained/' }).installLifecycle({}),
    gcs.driver({ bucket, prefix: 'ephemeral/' }).installLifecycle({ expireAfterDays: 1 }),
    gcs.driver({ bucket, prefix: 'third/' }).installLifecycle({}),
  ]);
  const rules = stored(bucket);
  t.equal(rules.length, 5, 'the foreign rule and four of ours');
  for (const rule of [FOREIGN, staging('retained/'), staging('ephemeral/'), staging('third/'), { action: { type: 'Delete' }, condition: { age: 1, matchesPrefix: ['ephemeral/'] } }]) {
    t.ok(rules.some((r) => JSON.stringify(r) === JSON.stringify(rule)), JSON.stringify(rule));
  }
});

t.test('the server refuses a bucket patch with a stale metageneration, which the install relies on', async (t) => {
  const bucket = newBucket();
  const [before] = await storage.bucket(bucket).getMetadata();
  await gcs.driver({ bucket }).installLifecycle({});
  const err = await storage
    .bucket(bucket)
    .setMetadata({ lifecycle: { rule: [FOREIGN] } }, { ifMetagenerationMatch: before.metageneration })
    .catch((e: unknown) => e);
  t.equal(gcsStatus(err), 412, '412 conditionNotMet');
  t.same(stored(bucket), [staging('')], 'our rule survived the stale write');
});

t.test('a missing bucket rejects storage_error, without backend text, keeping the cause', async (t) => {
  const err = await gcs.driver({ bucket: 'lc-no-such-bucket' }).installLifecycle({}).catch((e: unknown) => e);
  t.ok(err instanceof BlobgateError, 'a BlobgateError');
  t.match(err, { code: 'storage_error', status: 502, message: 'The GCS store failed while reading the bucket lifecycle rules; see the server log.' });
  t.notMatch((err as Error).message, /specified bucket|does not exist|lc-no-such-bucket|127\.0\.0\.1/, 'no backend text');
  t.equal(gcsStatus((err as Error).cause), 404, 'the SDK error is the cause');
  t.equal(gcs.server.bucketLifecycle('lc-no-such-bucket'), undefined);
});

t.test('expireAfterDays must be a positive integer; nothing is written otherwise', async (t) => {
  const bucket = newBucket();
  for (const days of [0, -1, 1.5, Number.NaN]) {
    await t.rejects(gcs.driver({ bucket }).installLifecycle({ expireAfterDays: days }), RangeError, `${days}`);
  }
  t.equal(gcs.server.bucketLifecycle(bucket), undefined);
});

t.test('recordsExpireAfterDays adds a delete rule for the records prefix, once; without it the rule goes', async (t) => {
  const bucket = newBucket();
  await addForeign(bucket);
  const records = (prefix: string, age: number): LifecycleRule => ({ action: { type: 'Delete' }, condition: { age, matchesPrefix: [`${prefix}.blobgate-records/`] } });
  const driver = gcs.driver({ bucket, prefix: 'env-a' });
  const result = await driver.installLifecycle({ recordsExpireAfterDays: 30 });
  t.same(stored(bucket), [FOREIGN, staging('env-a/'), records('env-a/', 30)]);
  t.same(result.rules, ['delete env-a/.blobgate-staging/* at age 1 day', 'delete env-a/.blobgate-records/* at age 30 days']);
  await gcs.driver({ bucket, prefix: 'env-a' }).installLifecycle({ recordsExpireAfterDays: 30 }); // a second replica starting
  t.same(stored(bucket), [FOREIGN, staging('env-a/'), records('env-a/', 30)], 'the same rules, once each');
  await driver.installLifecycle({ recordsExpireAfterDays: 7, expireAfterDays: 2 });
  t.same(stored(bucket), [FOREIGN, staging('env-a/'), { action: { type: 'Delete' }, condition: { age: 2, matchesPrefix: ['env-a/'] } }, records('env-a/', 7)], 'new days replace the old');
  await driver.installLifecycle({});
  t.same(stored(bucket), [FOREIGN, staging('env-a/')], 'the records rule is gone, the foreign rule kept');

  const bare = newBucket();
  await gcs.driver({ bucket: bare }).installLifecycle({ recordsExpireAfterDays: 1 });
  t.same(stored(bare), [staging(''), records('', 1)], 'without a store prefix');
});

t.test('recordsExpireAfterDays must be a positive integer; nothing is written otherwise', async (t) => {
  const bucket = newBucket();
  for (const days of [0, -1, 1.5, Number.NaN]) {
    await t.rejects(gcs.driver({ bucket }).installLifecycle({ recordsExpireAfterDays: days }), RangeError, `${days}`);
  }
  t.equal(gcs.server.bucketLifecycle(bucket), undefined);
});
