import type { Readable } from 'node:stream';
import { isBlobgateError } from '../errors.js';
import type { ObjectMetaInit, StorageDriver, StoredObject } from '../storage/driver.js';
import { CheckFailure, describeError } from './failure.js';

/**
 * The conformance checks' shared vocabulary (rclone's fstests is the model):
 * one ordered list of checks (list.ts), each a name, a capability section and
 * a `run(ctx)` that uses the driver contract (src/storage/driver.ts) and
 * nothing else, and two runners — the tap runner of the contract suite
 * (test/contract/driver-contract.ts, every driver against a real server) and
 * `blobgate smoke` (src/smoke/run.ts, a live store). A check throws
 * CheckFailure (or any error) to fail; its runner turns that into a tap
 * failure or a FAIL row. docs/storage-contract.md#the-conformance-list
 */

/** `true` passed, `false` failed, `'not-enforced'`: the backend does not check it (not a failure). */
export type RowResult = boolean | 'not-enforced';

export interface CheckOutcome {
  ok?: RowResult;
  detail?: string;
}

/**
 * What a check needs beyond the core contract. A section runs only where the
 * driver (or the runner) has it, and is skipped elsewhere: `signing` needs a
 * way to sign (the driver's signUrl, or blobgate's signer in the smoke),
 * the others the optional driver method of that name.
 */
export type Section = 'core' | 'signing' | 'ping' | 'expiry sweep' | 'debris sweep' | 'lifecycle';

export interface ConformanceContext {
  driver: StorageDriver;
  /** Everything a check writes lives under it (ends with `/`); the smoke's is `workspaces/_smoke/<uuid>/`. */
  prefix: string;
  /** The store's part (S3) or chunk (GCS) size: "several parts" is more than 3 of them. */
  unit: number;
  /** A URL for `key` fetchable without credentials: the driver's own, or one blobgate signed. Absent: the signing section is skipped. */
  sign?: (key: string, ttlSeconds: number) => Promise<string>;
  fetch: typeof fetch;
  /** Aborted when the check runs out of time. */
  signal: AbortSignal;
  /**
   * Backend debris a finished or failed write must not leave (temp files,
   * multipart uploads, resumable sessions, staging objects). Only a runner
   * that can look inside the backend (the contract suite) gives it.
   */
  leftovers?: () => Promise<string[]>;
  /** Every key a check tried to write (what cleanup removes even when listing misses it). */
  attempted: Set<string>;
  /** Keys written successfully and not yet deleted, with what they hold. */
  written: Map<string, { size: number; sha256: string }>;
  small?: { key: string; bytes: Buffer };
  parts?: { key: string; size: number; sha256: string };
  signedUrl?: string;
}

export interface ConformanceCheck {
  name: string;
  section: Section;
  /**
   * Its part in `blobgate smoke`, which runs against a live store and so only
   * what is quick and touches nothing outside its prefix: `'row'`, a row of
   * the table; `'gate'`, run before the rows and shown only when it fails (the
   * store is then reported by that one row). Absent: the contract suite only.
   */
  smoke?: 'row' | 'gate';
  run(ctx: ConformanceContext): Promise<CheckOutcome | string>;
}

/** Why `check` does not apply to this driver (it is then skipped), or undefined when it runs. */
export function skipReason(check: ConformanceCheck, ctx: Pick<ConformanceContext, 'driver' | 'sign'>): string | undefined {
  const d = ctx.driver;
  switch (check.section) {
    case 'core':
      return undefined;
    case 'signing':
      return ctx.sign ? undefined : 'no signer: the driver has no signUrl';
    case 'ping':
      return d.ping ? undefined : 'the driver has no ping';
    case 'expiry sweep':
      return d.sweepExpired ? undefined : 'the driver has no sweepExpired (the store expires objects natively)';
    case 'debris sweep':
      return d.sweepDebris ? undefined : 'the driver has no sweepDebris';
    case 'lifecycle':
      return d.installLifecycle ? undefined : 'the driver has no installLifecycle';
  }
}

/** The object of "write small", which later checks read. */
export function needSmall(ctx: ConformanceContext): { key: string; bytes: Buffer } {
  if (!ctx.small) throw new CheckFailure('not run: needs the object of "write small", which failed');
  return ctx.small;
}

export function expect(cond: boolean, what: string): void {
  if (!cond) throw new CheckFailure(what);
}

/** Expects `promise` to reject with driver error `code`; anything else fails the check. Resolves with the error. */
export async function expectError(promise: Promise<unknown>, code: string, what: string, prefix: string): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    if (isBlobgateError(err) && err.code === code) return err;
    throw new CheckFailure(`${what}: expected ${code}, got ${describeError(err, prefix)}`);
  }
  throw new CheckFailure(`${what}: expected ${code}, but it succeeded`);
}

/** Every key under `prefix`, all pages. */
export async function listKeys(driver: StorageDriver, prefix: string): Promise<Array<{ key: string; size: number }>> {
  const out: Array<{ key: string; size: number }> = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const res = await driver.list({ prefix, limit: 1000, ...(cursor ? { cursor } : {}) });
    out.push(...res.items.map((i) => ({ key: i.key, size: i.meta.size })));
    cursor = res.cursor;
    if (!cursor) return out;
  }
  throw new CheckFailure(`more than 100 pages under ${prefix}`);
}

/** No backend debris, where the runner can see it. */
export async function expectNoLeftovers(ctx: ConformanceContext, after: string): Promise<void> {
  if (!ctx.leftovers) return;
  const left = await ctx.leftovers();
  expect(left.length === 0, `${after} left ${left.join(', ')}`);
}

/** After a refused write: the key is absent (head → not_found), not listed, and no debris is left. */
export async function expectNothingAt(ctx: ConformanceContext, key: string): Promise<void> {
  await expectError(ctx.driver.head(key), 'not_found', 'head after the refused write', ctx.prefix);
  const listed = await listKeys(ctx.driver, ctx.prefix);
  expect(!listed.some((i) => i.key === key), `the refused write left ${rel(ctx, key)} in the listing`);
  await expectNoLeftovers(ctx, `the refused write of ${rel(ctx, key)}`);
}

/** Meta of a check's object: ephemeral with a near expiry, so should cleanup ever be impossible, what is left is marked short-lived. */
export function checkMeta(): ObjectMetaInit {
  const now = Date.now();
  return { contentType: 'application/octet-stream', tier: 'ephemeral', createdAt: new Date(now).toISOString(), expiresAt: new Date(now + 3600_000).toISOString() };
}

export interface PutOptions {
  maxBytes?: number;
  meta?: ObjectMetaInit;
  signal?: AbortSignal;
  /** Passed on as the write's progress (WriteRequest.progress). */
  progress?: (bytes: number) => void;
  /** What the key must then hold (recorded for the list and delete checks); default: what the driver says it stored. */
  want?: { size: number; sha256: string };
}

/** A write under the check's signal, recorded in `attempted`, and on success in `written`. */
export async function put(ctx: ConformanceContext, key: string, body: Readable, opts: PutOptions = {}): Promise<StoredObject> {
  ctx.attempted.add(key);
  const stored = await ctx.driver.write({
    key,
    body,
    maxBytes: opts.maxBytes ?? 1 << 30,
    meta: opts.meta ?? checkMeta(),
    signal: opts.signal ?? ctx.signal,
    ...(opts.progress ? { progress: opts.progress } : {}),
  });
  ctx.written.set(key, opts.want ?? { size: stored.meta.size, sha256: stored.meta.sha256 });
  return stored;
}

/** A key as a row shows it: relative to the run's prefix. */
export function rel(ctx: Pick<ConformanceContext, 'prefix'>, key: string): string {
  return key.startsWith(ctx.prefix) ? key.slice(ctx.prefix.length) : key;
}

export const short = (sha: string): string => sha.slice(0, 12);
