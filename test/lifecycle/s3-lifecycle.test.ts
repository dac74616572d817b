import { GetBucketLifecycleConfigurationCommand, PutBucketLifecycleConfigurationCommand, S3ServiceException } from '@aws-sdk/client-s3';
import t from 'tap';
import { BlobgateError } from '../../src/errors.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';

// S3Driver.installLifecycle() against fauxqs behind the SigV4-verifying proxy:
// our rules land in the bucket's lifecycle configuration next to the rules of
// others, scoped to the store prefix, once however often it runs. Assertions
// read the XML the server stored, not only what the driver returned.

const env = await startProxiedS3('lc-first');
t.teardown(() => env.stop());

let buckets = 0;
/** A fresh bucket for each test: the lifecycle configuration is per bucket. */
function newBucket(): string {
  const name = `lc-bucket-${++buckets}`;
  env.server.createBucket(name);
  return name;
}

function driver(bucket: string, prefix?: string): S3Driver {
  const d = new S3Driver({ client: env.client(), bucket, ...(prefix === undefined ? {} : { prefix }) });
  t.teardown(() => d.close());
  return d;
}

/** A rule as stored on the server, read from the XML with only the fields that are present. */
interface WireRule {
  id?: string;
  status?: string;
  /** Filter/Prefix ('' for an empty one) */
  filter?: string;
  /** Rule/Prefix, the legacy form */
  legacyPrefix?: string;
  expireDays?: number;
  abortDays?: number;
}

function storedRules(bucket: string): WireRule[] {
  const xml = env.server.lifecycleXml(bucket);
  if (xml === undefined) return [];
  const text = (src: string, tag: string): string | undefined => {
    if (new RegExp(`<${tag}\\s*/>`).test(src)) return '';
    return new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(src)?.[1];
  };
  return [...xml.matchAll(/<Rule>([\s\S]*?)<\/Rule>/g)].map(([, body = '']) => {
    const rule: WireRule = {};
    const filter = /<Filter>([\s\S]*?)<\/Filter>|<Filter\s*\/>/.exec(body);
    const outside = body.replace(/<Filter>[\s\S]*?<\/Filter>/, '');
    const set = <K extends keyof WireRule>(k: K, v: WireRule[K] | undefined): void => {
      if (v !== undefined) rule[k] = v;
    };
    set('id', text(body, 'ID'));
    set('status', text(body, 'Status'));
    if (filter) set('filter', text(filter[1] ?? '', 'Prefix') ?? '');
    set('legacyPrefix', text(outside, 'Prefix'));
    const expiration = text(body, 'Expiration');
    if (expiration !== undefined) set('expireDays', Number(text(expiration, 'Days')));
    const abort = text(body, 'AbortIncompleteMultipartUpload');
    if (abort !== undefined) set('abortDays', Number(text(abort, 'DaysAfterInitiation')));
    return rule;
  });
}

const FOREIGN = { ID: 'logs-30d', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 30 } } as const;
const FOREIGN_WIRE: WireRule = { id: 'logs-30d', status: 'Enabled', filter: 'logs/', expireDays: 30 };

async function putForeign(bucket: string): Promise<void> {
  await env.client().send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [FOREIGN] } }));
}

t.test('our rules are added beside a foreign rule, which is kept; no expire rule without expireAfterDays', async (t) => {
  const bucket = newBucket();
  await putForeign(bucket);
  t.same(storedRules(bucket), [FOREIGN_WIRE], 'the foreign rule is on the server');
  const result = await driver(bucket).installLifecycle({});
  t.same(storedRules(bucket), [
    FOREIGN_WIRE,
    { id: 'blobgate-staging', status: 'Enabled', filter: '.blobgate-staging/', expireDays: 1 },
    { id: 'blobgate-mpu', status: 'Enabled', filter: '', abortDays: 1 },
  ]);
  t.same(result.rules, ['blobgate-staging: expire .blobgate-staging/* after 1 day', 'blobgate-mpu: abort incomplete multipart uploads of * after 1 day']);
  // The stored XML is what an S3 client reads back.
  const out = await env.client().send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
  t.same(out.Rules?.map((r) => r.ID), ['logs-30d', 'blobgate-staging', 'blobgate-mpu'], 'GetBucketLifecycleConfiguration parses it');
});

t.test('installing again adds no duplicates; dropping expireAfterDays removes the expire rule', async (t) => {
  const bucket = newBucket();
  await putForeign(bucket);
  const d = driver(bucket);
  await d.installLifecycle({ expireAfterDays: 1 });
  const once = storedRules(bucket);
  t.same(once, [
    FOREIGN_WIRE,
    { id: 'blobgate-staging', status: 'Enabled', filter: '.blobgate-staging/', expireDays: 1 },
    { id: 'blobgate-mpu', status: 'Enabled', filter: '', abortDays: 1 },
    { id: 'blobgate-expire', status: 'Enabled', filter: '', expireDays: 1 },
  ]);
  await d.installLifecycle({ expireAfterDays: 1 });
  await driver(bucket).installLifecycle({ expireAfterDays: 1 }); // a second replica starting
  t.same(storedRules(bucket), once, 'the same rules, once each');

  await d.installLifecycle({ expireAfterDays: 3 });
  t.same(storedRules(bucket).find((r) => r.id === 'blobgate-expire'), { id: 'blobgate-expire', status: 'Enabled', filter: '', expireDays: 3 }, 'new days replace the old');
  t.equal(storedRules(bucket).length, 4);

  await d.installLifecycle({});
  t.same(storedRules(bucket).map((r) => r.id), ['logs-30d', 'blobgate-staging', 'blobgate-mpu'], 'the expire rule is gone, the foreign rule kept');
});

t.test('with a store prefix every rule of ours is scoped under it', async (t) => {
  const bucket = newBucket();
  await putForeign(bucket);
  const result = await driver(bucket, 'env-a').installLifecycle({ expireAfterDays: 2 });
  t.same(storedRules(bucket), [
    FOREIGN_WIRE,
    { id: 'blobgate-staging:env-a/', status: 'Enabled', filter: 'env-a/.blobgate-staging/', expireDays: 1 },
    { id: 'blobgate-mpu:env-a/', status: 'Enabled', filter: 'env-a/', abortDays: 1 },
    { id: 'blobgate-expire:env-a/', status: 'Enabled', filter: 'env-a/', expireDays: 2 },
  ]);
  t.same(result.rules, [
    'blobgate-staging:env-a/: expire env-a/.blobgate-staging/* after 1 day',
    'blobgate-mpu:env-a/: abort incomplete multipart uploads of env-a/* after 1 day',
    'blobgate-expire:env-a/: expire env-a/* after 2 days',
  ]);
});

t.test('two stores sharing a bucket under different prefixes keep each other’s rules, also when installing at once', async (t) => {
  const bucket = newBucket();
  const retained = driver(bucket, 'retained/');
  const ephemeral = driver(bucket, 'ephemeral/');
  await Promise.all([retained.installLifecycle({}), ephemeral.installLifecycle({ expireAfterDays: 1 })]);
  const ids = storedRules(bucket).map((r) => r.id);
  t.same([...ids].sort(), [
    'blobgate-expire:ephemeral/',
    'blobgate-mpu:ephemeral/',
    'blobgate-mpu:retained/',
    'blobgate-staging:ephemeral/',
    'blobgate-staging:retained/',
  ]);
  await retained.installLifecycle({});
  t.same(storedRules(bucket).map((r) => r.id).sort(), [...ids].sort(), 'a restart of one store leaves the other’s rules alone');
  t.same(storedRules(bucket).find((r) => r.id === 'blobgate-expire:ephemeral/'), { id: 'blobgate-expire:ephemeral/', status: 'Enabled', filter: 'ephemeral/', expireDays: 1 });
});

t.test('a legacy foreign rule (Rule/Prefix) is kept as the equivalent Filter/Prefix rule, and the minimum-size setting is kept', async (t) => {
  const bucket = newBucket();
  await env.client().send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: { Rules: [{ ID: 'old-style', Status: 'Disabled', Prefix: 'tmp/', Expiration: { Days: 7 } }] },
      TransitionDefaultMinimumObjectSize: 'varies_by_storage_class',
    }),
  );
  t.same(storedRules(bucket), [{ id: 'old-style', status: 'Disabled', legacyPrefix: 'tmp/', expireDays: 7 }]);
  await driver(bucket).installLifecycle({});
  // S3 refuses a configuration mixing both forms (the harness checks it as S3 does).
  t.same(storedRules(bucket)[0], { id: 'old-style', status: 'Disabled', filter: 'tmp/', expireDays: 7 });
  const out = await env.client().send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
  t.equal(out.TransitionDefaultMinimumObjectSize, 'varies_by_storage_class', 'not reset to the default by our PUT');
});

t.test('a missing bucket rejects storage_error, without backend text, keeping the cause', async (t) => {
  const err = await driver('lc-no-such-bucket').installLifecycle({}).catch((e: unknown) => e);
  t.ok(err instanceof BlobgateError, 'a BlobgateError');
  t.match(err, { code: 'storage_error', status: 502, message: 'The S3 store failed while reading the bucket lifecycle configuration; see the server log.' });
  t.notMatch((err as Error).message, /NoSuch|does not exist|specified|lc-no-such-bucket/, 'no backend text');
  t.ok((err as Error).cause instanceof S3ServiceException, 'the SDK error is the cause');
  t.match((err as Error).cause, { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } });
  t.equal(env.server.lifecycleXml('lc-no-such-bucket'), undefined);
});

t.test('credentials the store refuses reject storage_error naming the permissions needed', async (t) => {
  const bucket = newBucket();
  const d = new S3Driver({ client: env.client({ accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'not-a-known-secret-key' }), bucket });
  t.teardown(() => d.close());
  const err = await d.installLifecycle({}).catch((e: unknown) => e);
  t.match(err, { code: 'storage_error', message: /s3:GetLifecycleConfiguration and s3:PutLifecycleConfiguration/, cause: { $metadata: { httpStatusCode: 403 } } });
  t.notMatch((err as Error).message, /InvalidAccessKeyId|AKIDUNKNOWN|does not exist/, 'no backend text');
  t.equal(env.server.lifecycleXml(bucket), undefined, 'nothing written');
});

t.test('expireAfterDays must be a positive integer; nothing is written otherwise', async (t) => {
  const bucket = newBucket();
  for (const days of [0, -1, 1.5, Number.NaN]) {
    await t.rejects(driver(bucket).installLifecycle({ expireAfterDays: days }), RangeError, `${days}`);
  }
  t.equal(env.server.lifecycleXml(bucket), undefined);
});

t.test('recordsExpireAfterDays adds the blobgate-records rule under the store prefix, once; without it the rule goes', async (t) => {
  const bucket = newBucket();
  await putForeign(bucket);
  const d = driver(bucket, 'env-a');
  const result = await d.installLifecycle({ recordsExpireAfterDays: 30 });
  const rules = [
    FOREIGN_WIRE,
    { id: 'blobgate-staging:env-a/', status: 'Enabled', filter: 'env-a/.blobgate-staging/', expireDays: 1 },
    { id: 'blobgate-mpu:env-a/', status: 'Enabled', filter: 'env-a/', abortDays: 1 },
    { id: 'blobgate-records:env-a/', status: 'Enabled', filter: 'env-a/.blobgate-records/', expireDays: 30 },
  ];
  t.same(storedRules(bucket), rules);
  t.equal(result.rules.at(-1), 'blobgate-records:env-a/: expire env-a/.blobgate-records/* after 30 days');
  await driver(bucket, 'env-a').installLifecycle({ recordsExpireAfterDays: 30 }); // a second replica starting
  t.same(storedRules(bucket), rules, 'the same rules, once each');
  await d.installLifecycle({ recordsExpireAfterDays: 7, expireAfterDays: 2 });
  t.same(
    storedRules(bucket).slice(3),
    [
      { id: 'blobgate-expire:env-a/', status: 'Enabled', filter: 'env-a/', expireDays: 2 },
      { id: 'blobgate-records:env-a/', status: 'Enabled', filter: 'env-a/.blobgate-records/', expireDays: 7 },
    ],
    'new days replace the old, beside the expire rule',
  );
  await d.installLifecycle({});
  t.same(storedRules(bucket).map((r) => r.id), ['logs-30d', 'blobgate-staging:env-a/', 'blobgate-mpu:env-a/'], 'the records rule is gone, the foreign rule kept');

  const bare = newBucket();
  await driver(bare).installLifecycle({ recordsExpireAfterDays: 1 });
  t.same(storedRules(bare).at(-1), { id: 'blobgate-records', status: 'Enabled', filter: '.blobgate-records/', expireDays: 1 }, 'without a store prefix');
});

t.test('recordsExpireAfterDays must be a positive integer; nothing is written otherwise', async (t) => {
  const bucket = newBucket();
  for (const days of [0, -1, 1.5, Number.NaN]) {
    await t.rejects(driver(bucket).installLifecycle({ recordsExpireAfterDays: days }), RangeError, `${days}`);
  }
  t.equal(env.server.lifecycleXml(bucket), undefined);
});

t.test('the proxy refused no request but the one signed with unknown credentials', async (t) => {
  t.same([...env.proxy.rejected], [['InvalidAccessKeyId', 1]]);
});
