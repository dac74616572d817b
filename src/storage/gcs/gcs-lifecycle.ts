import type { Bucket, LifecycleRule } from '@google-cloud/storage';
import { BlobgateError } from '../../errors.js';
import { RECORDS_DIR } from '../records.js';
import { gcsStatus, storageError } from './gcs-errors.js';
import { STAGING_DIR } from './gcs-staging.js';

/**
 * blobgate's bucket lifecycle rules on GCS, installed at start-up when the
 * store's config opts in. Lifecycle rules cannot match custom metadata
 * (`bg-tier`, `bg-expires-at`), so every rule is scoped by name prefix, under
 * the store prefix:
 *
 *   delete `<prefix>.blobgate-staging/` at age 1 day  (staging objects a crashed process left)
 *   delete `<prefix>` at age N days                    (only with expireAfterDays: a store that
 *                                                       backs only the ephemeral tier; for an empty
 *                                                       store prefix the rule has no matchesPrefix)
 *   delete `<prefix>.blobgate-records/` at age N days  (only with recordsExpireAfterDays. Records
 *                                                       carry their own logical expiry; this is the
 *                                                       physical backstop for those nothing deleted,
 *                                                       src/storage/records.ts)
 *
 * GCS needs no multipart rule: a resumable session that is never finished
 * leaves no object and expires on its own (after a week).
 *
 * A bucket has one lifecycle configuration, so installing is read, merge,
 * write. GCS rules have no IDs, so ours are recognised by their shape: action
 * exactly `Delete`, condition exactly an `age` plus `matchesPrefix` naming
 * only the store prefix, its staging prefix or its records prefix (for an empty store prefix,
 * an `age` alone: the whole bucket is the store). Such a rule is the store's
 * staging or expiry rule whoever wrote it, and is replaced by ours (or, for an
 * expiry rule when expireAfterDays is not given, removed); every other rule is
 * kept as it is.
 *
 * The write carries ifMetagenerationMatch with the metageneration that was
 * read, so a concurrent change to the bucket (another replica or store
 * installing its rules, an operator editing the rules) is never overwritten:
 * GCS answers 412 and the install reads and merges again.
 */

export interface LifecycleOptions {
  /** Also delete every object under the store prefix at this age in days (a positive integer). */
  expireAfterDays?: number;
  /** Also delete every record (`<prefix>.blobgate-records/`) at this age in days (a positive integer). */
  recordsExpireAfterDays?: number;
}

/** Read-merge-write rounds before giving up on a bucket whose metadata keeps changing. */
const MAX_ATTEMPTS = 5;

export function blobgateGcsRules(storePrefix: string, opts: LifecycleOptions): LifecycleRule[] {
  const rules: LifecycleRule[] = [{ action: { type: 'Delete' }, condition: { age: 1, matchesPrefix: [storePrefix + STAGING_DIR] } }];
  if (opts.expireAfterDays !== undefined) {
    rules.push({
      action: { type: 'Delete' },
      condition: storePrefix === '' ? { age: opts.expireAfterDays } : { age: opts.expireAfterDays, matchesPrefix: [storePrefix] },
    });
  }
  if (opts.recordsExpireAfterDays !== undefined) {
    rules.push({ action: { type: 'Delete' }, condition: { age: opts.recordsExpireAfterDays, matchesPrefix: [storePrefix + RECORDS_DIR] } });
  }
  return rules;
}

/** Whether a rule read from the bucket is one of ours for this store prefix (see the module comment). */
export function isOwnGcsRule(rule: unknown, storePrefix: string): boolean {
  if (!isRecord(rule) || !isRecord(rule.action) || !isRecord(rule.condition)) return false;
  const { action, condition } = rule;
  if (action.type !== 'Delete' || !hasOnlyKeys(action, ['type'])) return false;
  if (typeof condition.age !== 'number' || !hasOnlyKeys(condition, ['age', 'matchesPrefix'])) return false;
  const prefixes = condition.matchesPrefix;
  if (prefixes === undefined) return storePrefix === '';
  if (!Array.isArray(prefixes) || prefixes.length !== 1) return false;
  return prefixes[0] === storePrefix + STAGING_DIR || prefixes[0] === storePrefix + RECORDS_DIR || (storePrefix !== '' && prefixes[0] === storePrefix);
}

/** The bucket's other rules, unchanged and in order, followed by ours. */
export function mergeGcsRules(existing: readonly LifecycleRule[], storePrefix: string, ours: readonly LifecycleRule[]): LifecycleRule[] {
  return [...existing.filter((r) => !isOwnGcsRule(r, storePrefix)), ...ours];
}

/** A line per rule for the start-up log. */
export function describeGcsRule(rule: LifecycleRule): string {
  const where = `${rule.condition.matchesPrefix?.[0] ?? ''}*`;
  const age = rule.condition.age;
  return `delete ${where} at age ${age === 1 ? '1 day' : `${age ?? '?'} days`}`;
}

export async function installGcsLifecycle(bucket: Bucket, storePrefix: string, opts: LifecycleOptions): Promise<{ rules: string[] }> {
  for (const name of ['expireAfterDays', 'recordsExpireAfterDays'] as const) {
    const n = opts[name];
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 1)) throw new RangeError(`${name} must be a positive integer, got ${n}`);
  }
  const ours = blobgateGcsRules(storePrefix, opts);
  for (let attempt = 1; ; attempt++) {
    let metadata;
    try {
      [metadata] = await bucket.getMetadata();
    } catch (err) {
      throw lifecycleError(err, 'reading the bucket lifecycle rules');
    }
    const rules = mergeGcsRules(metadata.lifecycle?.rule ?? [], storePrefix, ours);
    const precondition = metadata.metageneration === undefined ? {} : { ifMetagenerationMatch: metadata.metageneration };
    try {
      await bucket.setMetadata({ lifecycle: { rule: rules } }, precondition);
      return { rules: ours.map(describeGcsRule) };
    } catch (err) {
      // 412: the bucket changed since it was read; merge into the new state.
      if (gcsStatus(err) === 412 && attempt < MAX_ATTEMPTS) continue;
      throw lifecycleError(err, 'writing the bucket lifecycle rules');
    }
  }
}

function lifecycleError(err: unknown, what: string): BlobgateError {
  if (gcsStatus(err) === 403) {
    return new BlobgateError(
      'storage_error',
      `The GCS store denied ${what}: blobgate's identity needs storage.buckets.get and storage.buckets.update on the bucket; see the server log.`,
      undefined,
      { cause: err },
    );
  }
  return storageError(err, what);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasOnlyKeys(o: Record<string, unknown>, allowed: readonly string[]): boolean {
  return Object.keys(o).every((k) => allowed.includes(k) || o[k] === undefined);
}
