import type { ObjectMetaInit, StorageDriver } from '../storage/driver.js';
import { isBlobgateError } from '../errors.js';
import { collectStream, digestStream, sha256Of, smokeBytes, smokeSource } from './bytes.js';
import { SmokeFailure, describeError } from './errors.js';

/**
 * The smoke checks, one small function each, run in this order against one
 * store by run.ts. Every object a check writes lives under `ctx.prefix`
 * (`workspaces/_smoke/<uuid>/`) and is recorded in `ctx.attempted`, so the
 * cleanup that follows (pass or fail) can remove it.
 */

/** `true` passed, `false` failed, `'not-enforced'`: the backend does not check it (not a failure). */
export type RowResult = boolean | 'not-enforced';

export interface CheckContext {
  store: string;
  driver: StorageDriver;
  /** `workspaces/_smoke/<uuid>/` */
  prefix: string;
  /** The store's part (S3) or chunk (GCS) size: "several parts" is more than 3 of them. */
  unit: number;
  /** A URL for `key` fetchable without credentials: the driver's own, or one blobgate signed. */
  sign(key: string, ttlSeconds: number): Promise<string>;
  fetch: typeof fetch;
  /** Aborted when the check runs out of time. */
  signal: AbortSignal;
  /** Every key a check tried to write (what cleanup removes even when listing misses it). */
  attempted: Set<string>;
  /** Keys written successfully and not yet deleted, with what they hold. */
  written: Map<string, { size: number; sha256: string }>;
  small?: { key: string; bytes: Buffer };
  parts?: { key: string; size: number; sha256: string };
  signedUrl?: string;
}

export interface CheckOutcome {
  ok?: RowResult;
  detail?: string;
}

export interface Check {
  name: string;
  run(ctx: CheckContext): Promise<CheckOutcome | string>;
}

export const SMALL_BYTES = 4096;
const SIGNED_TTL_SECONDS = 300;
/** Status codes that count as "refused" for a tampered signed URL. */
const REFUSED = new Set([400, 401, 403]);

function meta(): ObjectMetaInit {
  const now = Date.now();
  // Ephemeral with a near expiry: should cleanup ever be impossible, what is left is marked short-lived.
  return { contentType: 'application/octet-stream', tier: 'ephemeral', createdAt: new Date(now).toISOString(), expiresAt: new Date(now + 3600_000).toISOString() };
}

function needSmall(ctx: CheckContext): { key: string; bytes: Buffer } {
  if (!ctx.small) throw new SmokeFailure('not run: needs the object of "write small", which failed');
  return ctx.small;
}

function expect(cond: boolean, what: string): void {
  if (!cond) throw new SmokeFailure(what);
}

/** Expects `promise` to reject with driver error `code`; anything else fails the check. */
async function expectError(promise: Promise<unknown>, code: string, what: string, prefix: string): Promise<void> {
  try {
    await promise;
  } catch (err) {
    if (isBlobgateError(err) && err.code === code) return;
    throw new SmokeFailure(`${what}: expected ${code}, got ${describeError(err, prefix)}`);
  }
  throw new SmokeFailure(`${what}: expected ${code}, but it succeeded`);
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
  throw new SmokeFailure(`more than 100 pages under ${prefix}`);
}

/** After a refused write: the key is absent (head → not_found) and not listed. */
async function expectNothingAt(ctx: CheckContext, key: string): Promise<void> {
  await expectError(ctx.driver.head(key), 'not_found', 'head after the refused write', ctx.prefix);
  const listed = await listKeys(ctx.driver, ctx.prefix);
  expect(!listed.some((i) => i.key === key), `the refused write left ${key.slice(ctx.prefix.length)} in the listing`);
}

const short = (sha: string): string => sha.slice(0, 12);

export const writeSmall: Check = {
  name: 'write small',
  async run(ctx) {
    const key = `${ctx.prefix}small.bin`;
    const bytes = smokeBytes(0, SMALL_BYTES);
    ctx.attempted.add(key);
    const stored = await ctx.driver.write({ key, body: smokeSource(SMALL_BYTES).body, maxBytes: SMALL_BYTES, meta: meta(), signal: ctx.signal });
    const sha256 = sha256Of(bytes);
    ctx.written.set(key, { size: SMALL_BYTES, sha256 });
    expect(stored.meta.size === SMALL_BYTES, `stored size ${stored.meta.size}, expected ${SMALL_BYTES}`);
    expect(stored.meta.sha256 === sha256, `stored sha256 ${short(stored.meta.sha256)}…, expected ${short(sha256)}…`);
    ctx.small = { key, bytes };
    return `${SMALL_BYTES} bytes, sha256 ${short(sha256)}…`;
  },
};

export const writeParts: Check = {
  name: 'write parts',
  async run(ctx) {
    const key = `${ctx.prefix}parts.bin`;
    const size = 3 * ctx.unit + 7;
    // Streamed with no announced size (like a chunked upstream): never buffered whole.
    const source = smokeSource(size);
    ctx.attempted.add(key);
    const stored = await ctx.driver.write({ key, body: source.body, maxBytes: size, meta: meta(), signal: ctx.signal });
    const sha256 = source.sha256();
    ctx.written.set(key, { size, sha256 });
    expect(stored.meta.size === size, `stored size ${stored.meta.size}, expected ${size}`);
    expect(stored.meta.sha256 === sha256, `stored sha256 ${short(stored.meta.sha256)}…, expected ${short(sha256)}…`);
    const read = await ctx.driver.read(key);
    const back = await digestStream(read.body);
    expect(back.size === size && back.sha256 === sha256, `read back ${back.size} bytes with sha256 ${short(back.sha256)}…, expected ${size} bytes with ${short(sha256)}…`);
    ctx.parts = { key, size, sha256 };
    return `${size} bytes (3 × ${ctx.unit} + 7), read back identical`;
  },
};

export const rangedRead: Check = {
  name: 'ranged read',
  async run(ctx) {
    const small = needSmall(ctx);
    const ranges: Array<{ key: string; start: number; end: number }> = [{ key: small.key, start: 1000, end: 1999 }];
    if (ctx.parts) ranges.push({ key: ctx.parts.key, start: ctx.unit - 10, end: ctx.unit + 9 }); // across the first part boundary
    for (const r of ranges) {
      const res = await ctx.driver.read(r.key, { start: r.start, end: r.end });
      const got = await collectStream(res.body);
      const where = `bytes=${r.start}-${r.end} of ${r.key.slice(ctx.prefix.length)}`;
      expect(res.range?.start === r.start && res.range?.end === r.end, `${where}: resolved as ${JSON.stringify(res.range)}`);
      expect(got.equals(smokeBytes(r.start, r.end - r.start + 1)), `${where}: ${got.length} bytes that differ from what was written`);
    }
    const suffix = await ctx.driver.read(small.key, { suffix: 10 });
    const tail = await collectStream(suffix.body);
    expect(tail.equals(small.bytes.subarray(SMALL_BYTES - 10)), 'bytes=-10: the last 10 bytes differ');
    return ranges.length > 1 ? 'bytes=1000-1999, bytes=-10, and 20 bytes across the part boundary' : 'bytes=1000-1999 and bytes=-10';
  },
};

export const head: Check = {
  name: 'head',
  async run(ctx) {
    const small = needSmall(ctx);
    const { meta: m } = await ctx.driver.head(small.key);
    const want = ctx.written.get(small.key)!;
    expect(m.size === want.size, `size ${m.size}, expected ${want.size}`);
    expect(m.sha256 === want.sha256, `sha256 ${short(m.sha256)}…, expected ${short(want.sha256)}…`);
    expect(m.contentType === 'application/octet-stream', `content type ${m.contentType}`);
    expect(m.tier === 'ephemeral', `tier ${m.tier}`);
    return `size, sha256, content type and tier as written`;
  },
};

export const list: Check = {
  name: 'list',
  async run(ctx) {
    const listed = await listKeys(ctx.driver, ctx.prefix);
    const want = [...ctx.written.entries()].map(([key, v]) => ({ key, size: v.size })).sort((a, b) => (a.key < b.key ? -1 : 1));
    const show = (items: Array<{ key: string; size: number }>): string => `[${items.map((i) => `${i.key.slice(ctx.prefix.length)} (${i.size})`).join(', ')}]`;
    expect(JSON.stringify(listed) === JSON.stringify(want), `listed ${show(listed)}, expected ${show(want)}`);
    return `${listed.length} object${listed.length === 1 ? '' : 's'} under the prefix, in key order`;
  },
};

export const signedUrl: Check = {
  name: 'signed url',
  async run(ctx) {
    const small = needSmall(ctx);
    const url = await ctx.sign(small.key, SIGNED_TTL_SECONDS);
    ctx.signedUrl = url;
    // No credentials: the URL alone must grant the read.
    const res = await ctx.fetch(url, { signal: ctx.signal });
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status === 200, `HTTP ${res.status} for the signed URL${excerpt(body)}`);
    expect(body.equals(small.bytes), `HTTP 200 but ${body.length} bytes that differ from the ${SMALL_BYTES} written`);
    return `${urlKind(url)}: HTTP 200, ${body.length} bytes identical`;
  },
};

export const tamperedUrl: Check = {
  name: 'tampered url',
  async run(ctx) {
    const small = needSmall(ctx);
    const url = ctx.signedUrl ?? (await ctx.sign(small.key, SIGNED_TTL_SECONDS));
    const tampered = tamperSignature(url);
    if (!tampered) throw new SmokeFailure('the signed URL carries no signature parameter (X-Amz-Signature, X-Goog-Signature or signature)');
    const res = await ctx.fetch(tampered.url, { signal: ctx.signal });
    const body = Buffer.from(await res.arrayBuffer());
    if (REFUSED.has(res.status)) return `refused: HTTP ${res.status} (${tampered.param} altered)`;
    if (res.status === 200) return { ok: 'not-enforced', detail: `not enforced by this backend (HTTP 200 with ${tampered.param} altered)` };
    throw new SmokeFailure(`HTTP ${res.status} with ${tampered.param} altered, expected 400, 401 or 403${excerpt(body)}`);
  },
};

export const overCapWrite: Check = {
  name: 'over-cap write',
  async run(ctx) {
    const key = `${ctx.prefix}over-cap.bin`;
    // A cap past the first part, so the store has started a multipart upload / resumable session to clean up.
    const cap = ctx.unit + 1;
    const source = smokeSource(cap + 64 * 1024);
    ctx.attempted.add(key);
    await expectError(ctx.driver.write({ key, body: source.body, maxBytes: cap, meta: meta(), signal: ctx.signal }), 'cap_exceeded', `a ${cap + 64 * 1024}-byte body with maxBytes ${cap}`, ctx.prefix);
    await expectNothingAt(ctx, key);
    return `refused (cap_exceeded) past ${cap} bytes; nothing left`;
  },
};

export const abortedWrite: Check = {
  name: 'aborted write',
  async run(ctx) {
    const key = `${ctx.prefix}aborted.bin`;
    const abortAt = ctx.unit + 1024 * 1024;
    const controller = new AbortController();
    const source = smokeSource(3 * ctx.unit, (produced) => {
      if (produced < abortAt) return;
      setImmediate(() => controller.abort());
      return 'stall';
    });
    ctx.attempted.add(key);
    const signal = AbortSignal.any([controller.signal, ctx.signal]);
    await expectError(ctx.driver.write({ key, body: source.body, maxBytes: 4 * ctx.unit, meta: meta(), signal }), 'aborted', `aborting after ${abortAt} bytes`, ctx.prefix);
    await expectNothingAt(ctx, key);
    return `aborted after ${source.produced} bytes → aborted; nothing left`;
  },
};

export const deleteCheck: Check = {
  name: 'delete',
  async run(ctx) {
    const keys = [...ctx.written.keys()];
    if (keys.length === 0) throw new SmokeFailure('not run: no object was written');
    for (const key of keys) {
      await ctx.driver.delete(key);
      ctx.written.delete(key);
      await expectError(ctx.driver.head(key), 'not_found', `head after deleting ${key.slice(ctx.prefix.length)}`, ctx.prefix);
      await ctx.driver.delete(key); // idempotent
    }
    const listed = await listKeys(ctx.driver, ctx.prefix);
    expect(listed.length === 0, `still listed after delete: ${listed.map((i) => i.key.slice(ctx.prefix.length)).join(', ')}`);
    return `${keys.length} object${keys.length === 1 ? '' : 's'} deleted, head → not_found, second delete succeeds`;
  },
};

export const CHECKS: readonly Check[] = [writeSmall, writeParts, rangedRead, head, list, signedUrl, tamperedUrl, overCapWrite, abortedWrite, deleteCheck];

/** Row names in order, the cleanup row last. */
export const CHECK_NAMES: readonly string[] = [...CHECKS.map((c) => c.name), 'cleanup'];

/**
 * Removes everything the run wrote: whatever is listed under the prefix plus
 * every key a check tried to write (a listing could miss a key; deleting an
 * absent key succeeds). Then lists again: the row passes when nothing is left.
 */
export async function cleanup(ctx: CheckContext): Promise<CheckOutcome | string> {
  const failures: string[] = [];
  let listed: Array<{ key: string }> = [];
  try {
    listed = await listKeys(ctx.driver, ctx.prefix);
  } catch (err) {
    failures.push(`listing: ${describeError(err, ctx.prefix)}`);
  }
  const keys = new Set([...listed.map((i) => i.key), ...ctx.attempted]);
  let removed = 0;
  for (const key of keys) {
    try {
      await ctx.driver.delete(key);
      if (listed.some((i) => i.key === key)) removed++;
      ctx.written.delete(key);
    } catch (err) {
      failures.push(`deleting ${key.slice(ctx.prefix.length)}: ${describeError(err, ctx.prefix)}`);
    }
  }
  if (failures.length === 0) {
    const left = await listKeys(ctx.driver, ctx.prefix);
    if (left.length > 0) failures.push(`still listed: ${left.map((i) => i.key.slice(ctx.prefix.length)).join(', ')}`);
  }
  if (failures.length > 0) throw new SmokeFailure(`could not verify that nothing is left under ${ctx.prefix}: ${failures[0]}${failures.length > 1 ? ` (+${failures.length - 1} more)` : ''}`);
  return removed === 0 ? `nothing left under ${ctx.prefix}` : `removed ${removed} leftover object${removed === 1 ? '' : 's'}; nothing left under ${ctx.prefix}`;
}

const SIGNATURE_PARAMS = ['X-Amz-Signature', 'X-Goog-Signature', 'signature', 'Signature'];

/**
 * The URL with one character of its signature query parameter changed (in
 * the raw query, so no other parameter is re-encoded).
 */
export function tamperSignature(url: string): { url: string; param: string } | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const [base, query] = [url.slice(0, q), url.slice(q + 1)];
  const pairs = query.split('&');
  for (const name of SIGNATURE_PARAMS) {
    const i = pairs.findIndex((p) => p.split('=')[0] === name);
    if (i < 0) continue;
    const value = pairs[i]!.slice(name.length + 1);
    if (value === '') continue;
    const at = Math.floor(value.length / 2);
    pairs[i] = `${name}=${value.slice(0, at)}${flip(value[at]!)}${value.slice(at + 1)}`;
    return { url: `${base}?${pairs.join('&')}`, param: name };
  }
  return undefined;
}

function flip(c: string): string {
  const hex = '0123456789abcdef';
  const i = hex.indexOf(c.toLowerCase());
  if (i >= 0) return hex[(i + 1) % 16]!;
  if (/[A-Za-z]/.test(c)) return c === 'A' ? 'B' : 'A';
  return 'A';
}

function urlKind(url: string): string {
  const pairs = (url.split('?')[1] ?? '').split('&').map((p) => p.split('=')[0]);
  if (pairs.includes('X-Amz-Signature')) return 'S3 presigned URL';
  if (pairs.includes('X-Goog-Signature')) return 'GCS V4 signed URL';
  if (pairs.includes('signature')) return 'blobgate-signed URL';
  return 'signed URL';
}

function excerpt(body: Buffer): string {
  const text = body.subarray(0, 160).toString('utf8').replace(/\s+/g, ' ').trim();
  return text ? `: ${text}` : '';
}
