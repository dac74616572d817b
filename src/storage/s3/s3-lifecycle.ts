import {
  GetBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  PutBucketLifecycleConfigurationCommand,
  type S3Client,
  type TransitionDefaultMinimumObjectSize,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { BlobgateError } from '../../errors.js';
import { RECORDS_DIR } from '../records.js';
import { errorName, httpStatus, storageError } from './s3-errors.js';
import { STAGING_DIR } from './staging.js';

/**
 * blobgate's bucket lifecycle rules on S3, installed at start-up when the
 * store's config opts in. Lifecycle rules cannot match object metadata
 * (`bg-tier`, `bg-expires-at`), so every rule is scoped by key prefix, under
 * the store prefix:
 *
 *   blobgate-staging   expire `<prefix>.blobgate-staging/` after 1 day
 *                      (staging objects a crashed process left)
 *   blobgate-mpu       abort incomplete multipart uploads under `<prefix>` after 1 day
 *   blobgate-expire    expire everything under `<prefix>` after N days
 *                      (only with expireAfterDays: a store that backs only the ephemeral tier)
 *   blobgate-records   expire `<prefix>.blobgate-records/` after N days
 *                      (only with recordsExpireAfterDays). Records carry their own
 *                      logical expiry; this is the physical backstop for those
 *                      nothing deleted (src/storage/records.ts).
 *
 * A bucket has one lifecycle configuration, so installing is read, merge,
 * write: the rules of others are kept, ours (by ID) are replaced.
 *
 * Rule IDs carry the store prefix (`blobgate-staging:env-a/`; the bare IDs
 * when the prefix is empty): two stores may share a bucket under different
 * prefixes (the README's advice for the ephemeral tier), and S3 requires IDs
 * to be unique within the configuration, so bare IDs would make each store's
 * install replace the other's rules.
 *
 * S3 offers no conditional PutBucketLifecycleConfiguration, so installs of
 * stores on one bucket are serialised within the process; two processes that
 * install different rules into one bucket at the same instant can still lose
 * one side's update (the next start of that side puts it back).
 */

export interface LifecycleOptions {
  /** Also expire every object under the store prefix after this many days (a positive integer). */
  expireAfterDays?: number;
  /** Also expire every record (`<prefix>.blobgate-records/`) after this many days (a positive integer). */
  recordsExpireAfterDays?: number;
}

/** S3's limit on a rule ID. */
const MAX_RULE_ID = 255;

type RuleKind = 'staging' | 'mpu' | 'expire' | 'records';
const KINDS: readonly RuleKind[] = ['staging', 'mpu', 'expire', 'records'];

/** The ID of one of our rules for a store prefix; a digest of the prefix when the prefix is too long for an ID. */
export function lifecycleRuleId(kind: RuleKind, storePrefix: string): string {
  if (storePrefix === '') return `blobgate-${kind}`;
  const id = `blobgate-${kind}:${storePrefix}`;
  if (id.length <= MAX_RULE_ID) return id;
  return `blobgate-${kind}:sha256-${createHash('sha256').update(storePrefix).digest('hex').slice(0, 32)}`;
}

/** Our rules for a store prefix, in the order they are appended to the configuration. */
export function blobgateS3Rules(storePrefix: string, opts: LifecycleOptions): LifecycleRule[] {
  const rules: LifecycleRule[] = [
    {
      ID: lifecycleRuleId('staging', storePrefix),
      Status: 'Enabled',
      Filter: { Prefix: storePrefix + STAGING_DIR },
      Expiration: { Days: 1 },
    },
    {
      ID: lifecycleRuleId('mpu', storePrefix),
      Status: 'Enabled',
      Filter: { Prefix: storePrefix },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
    },
  ];
  if (opts.expireAfterDays !== undefined) {
    rules.push({
      ID: lifecycleRuleId('expire', storePrefix),
      Status: 'Enabled',
      Filter: { Prefix: storePrefix },
      Expiration: { Days: opts.expireAfterDays },
    });
  }
  if (opts.recordsExpireAfterDays !== undefined) {
    rules.push({
      ID: lifecycleRuleId('records', storePrefix),
      Status: 'Enabled',
      Filter: { Prefix: storePrefix + RECORDS_DIR },
      Expiration: { Days: opts.recordsExpireAfterDays },
    });
  }
  return rules;
}

/**
 * The bucket's other rules followed by ours. A rule with one of our IDs (from
 * a previous start, possibly with other days, or an expire rule no longer
 * wanted) is dropped, whatever it says. Legacy rules (`Rule/Prefix`, the
 * pre-2016 form) are rewritten as `Filter/Prefix`, which selects the same
 * objects: S3 refuses a configuration that mixes both forms ("Filter element
 * can only be used in Lifecycle V2"), and ours need Filter.
 */
export function mergeS3Rules(existing: readonly LifecycleRule[], storePrefix: string, ours: readonly LifecycleRule[]): LifecycleRule[] {
  const owned = new Set(KINDS.map((k) => lifecycleRuleId(k, storePrefix)));
  const others = existing.filter((r) => r.ID === undefined || !owned.has(r.ID)).map(toFilterForm);
  return [...others, ...ours];
}

function toFilterForm(rule: LifecycleRule): LifecycleRule {
  if (rule.Prefix === undefined || rule.Filter !== undefined) return rule;
  const { Prefix, ...rest } = rule;
  return { ...rest, Filter: { Prefix } };
}

/** A line per rule for the start-up log. */
export function describeS3Rule(rule: LifecycleRule): string {
  const where = `${rule.Filter?.Prefix ?? ''}*`;
  if (rule.AbortIncompleteMultipartUpload) {
    return `${rule.ID}: abort incomplete multipart uploads of ${where} after ${days(rule.AbortIncompleteMultipartUpload.DaysAfterInitiation)}`;
  }
  return `${rule.ID}: expire ${where} after ${days(rule.Expiration?.Days)}`;
}

function days(n: number | undefined): string {
  return n === 1 ? '1 day' : `${n ?? '?'} days`;
}

export function checkLifecycleOptions(opts: LifecycleOptions): void {
  for (const name of ['expireAfterDays', 'recordsExpireAfterDays'] as const) {
    const n = opts[name];
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 1)) throw new RangeError(`${name} must be a positive integer, got ${n}`);
  }
}

/** Reads the bucket's configuration, merges ours in and writes it back; resolves with a description of our rules. */
export async function installS3Lifecycle(client: S3Client, bucket: string, storePrefix: string, opts: LifecycleOptions): Promise<{ rules: string[] }> {
  checkLifecycleOptions(opts);
  return serialised(bucket, async () => {
    const current = await readConfiguration(client, bucket);
    const ours = blobgateS3Rules(storePrefix, opts);
    try {
      await client.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket: bucket,
          LifecycleConfiguration: { Rules: mergeS3Rules(current.rules, storePrefix, ours) },
          // Written with every PUT (S3 resets it to its default otherwise): keep the bucket's setting.
          ...(current.minimumObjectSize === undefined ? {} : { TransitionDefaultMinimumObjectSize: current.minimumObjectSize }),
        }),
      );
    } catch (err) {
      throw lifecycleError(err, 'writing the bucket lifecycle configuration');
    }
    return { rules: ours.map(describeS3Rule) };
  });
}

async function readConfiguration(
  client: S3Client,
  bucket: string,
): Promise<{ rules: LifecycleRule[]; minimumObjectSize: TransitionDefaultMinimumObjectSize | undefined }> {
  try {
    const out = await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
    return { rules: out.Rules ?? [], minimumObjectSize: out.TransitionDefaultMinimumObjectSize };
  } catch (err) {
    if (errorName(err) === 'NoSuchLifecycleConfiguration') return { rules: [], minimumObjectSize: undefined };
    throw lifecycleError(err, 'reading the bucket lifecycle configuration');
  }
}

function lifecycleError(err: unknown, what: string): BlobgateError {
  if (httpStatus(err) === 403 || errorName(err) === 'AccessDenied') {
    return new BlobgateError(
      'storage_error',
      `The S3 store denied ${what}: blobgate's identity needs s3:GetLifecycleConfiguration and s3:PutLifecycleConfiguration on the bucket; see the server log.`,
      undefined,
      { cause: err },
    );
  }
  return storageError(err, what);
}

/** Installs on one bucket run one after the other within the process (read-merge-write has no precondition on S3). */
const queues = new Map<string, Promise<void>>();

function serialised<T>(bucket: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(bucket) ?? Promise.resolve();
  const run = previous.then(fn);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(bucket, settled);
  void settled.then(() => {
    if (queues.get(bucket) === settled) queues.delete(bucket);
  });
  return run;
}
