import type { ByteRange } from '../storage/driver.js';
import { collectStream, patternChunk, patternStream } from './bytes.js';
import { type ConformanceCheck, type ConformanceContext, expect, needSmall, expectError, expectNoLeftovers, listKeys, put, rel, short } from './context.js';
import { CheckFailure } from './failure.js';
import { SMALL_BYTES } from './writes.js';

/** The reads, listings and deletes of the conformance list (list.ts has the order). */

export const rangedRead: ConformanceCheck = {
  name: 'ranged read',
  section: 'core',
  smoke: 'row',
  async run(ctx) {
    const small = needSmall(ctx);
    const ranges: Array<{ key: string; start: number; end: number }> = [{ key: small.key, start: 1000, end: 1999 }];
    if (ctx.parts) ranges.push({ key: ctx.parts.key, start: ctx.unit - 10, end: ctx.unit + 9 }); // across the first part boundary
    for (const r of ranges) {
      const res = await ctx.driver.read(r.key, { start: r.start, end: r.end });
      const got = await collectStream(res.body);
      const where = `bytes=${r.start}-${r.end} of ${rel(ctx, r.key)}`;
      expect(res.range?.start === r.start && res.range?.end === r.end, `${where}: resolved as ${JSON.stringify(res.range)}`);
      expect(got.equals(patternChunk(r.start, r.end - r.start + 1)), `${where}: ${got.length} bytes that differ from what was written`);
    }
    const suffix = await ctx.driver.read(small.key, { suffix: 10 });
    const tail = await collectStream(suffix.body);
    expect(tail.equals(small.bytes.subarray(SMALL_BYTES - 10)), 'bytes=-10: the last 10 bytes differ');
    return ranges.length > 1 ? 'bytes=1000-1999, bytes=-10, and 20 bytes across the part boundary' : 'bytes=1000-1999 and bytes=-10';
  },
};

export const rangeEdges: ConformanceCheck = {
  name: 'range edges',
  section: 'core',
  async run(ctx) {
    const key = `${ctx.prefix}range/obj`;
    const size = 10_000;
    await put(ctx, key, patternStream(size));
    const whole = patternChunk(0, size);
    const cases: Array<[ByteRange, number, number]> = [
      [{ start: 0, end: 0 }, 0, 0],
      [{ start: 100, end: 199 }, 100, 199],
      [{ start: 9_990 }, 9_990, 9_999],
      [{ start: 9_000, end: 20_000 }, 9_000, 9_999],
      [{ suffix: 10 }, 9_990, 9_999],
      [{ suffix: 50_000 }, 0, 9_999],
    ];
    for (const [range, start, end] of cases) {
      const r = await ctx.driver.read(key, range);
      const got = await collectStream(r.body);
      expect(r.range?.start === start && r.range?.end === end, `range ${JSON.stringify(range)}: resolved as ${JSON.stringify(r.range)}, expected ${start}-${end}`);
      expect(got.equals(whole.subarray(start, end + 1)), `range ${JSON.stringify(range)}: ${got.length} bytes that differ from what was written`);
    }
    const past = await expectError(ctx.driver.read(key, { start: size }), 'range_not_satisfiable', `bytes=${size}-`, ctx.prefix);
    const details = (past as { details?: { size?: unknown } }).details;
    expect(details?.size === size, `range_not_satisfiable with details.size ${JSON.stringify(details?.size)}, expected ${size}`);
    await expectError(ctx.driver.read(key, { suffix: 0 }), 'range_not_satisfiable', 'bytes=-0', ctx.prefix);
    return `${cases.length} ranges clamped to the object; past the end and bytes=-0 → range_not_satisfiable`;
  },
};

export const head: ConformanceCheck = {
  name: 'head',
  section: 'core',
  smoke: 'row',
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

export const missingObjects: ConformanceCheck = {
  name: 'missing objects',
  section: 'core',
  async run(ctx) {
    const key = `${ctx.prefix}missing`;
    await expectError(ctx.driver.head(key), 'not_found', 'head of a missing key', ctx.prefix);
    await expectError(ctx.driver.read(key), 'not_found', 'read of a missing key', ctx.prefix);
    await expectError(ctx.driver.read(key, { start: 0, end: 1 }), 'not_found', 'ranged read of a missing key', ctx.prefix);
    return 'head, read and ranged read → not_found';
  },
};

const show = (ctx: ConformanceContext, items: Array<{ key: string; size: number }>): string => `[${items.map((i) => `${rel(ctx, i.key)} (${i.size})`).join(', ')}]`;

export const listPages: ConformanceCheck = {
  name: 'list pages',
  section: 'core',
  async run(ctx) {
    const p = `${ctx.prefix}list/`;
    const keys = [`${p}a-c`, `${p}a/b`, `${p}b`, `${p}c/d/e`, `${p}c/d/f`];
    for (const k of [...keys].reverse()) await put(ctx, k, patternStream(3));
    await put(ctx, `${ctx.prefix}listing-outside`, patternStream(3));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await ctx.driver.list({ prefix: p, limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.items.length <= 2, `a page of ${page.items.length} items with limit 2`);
      for (const item of page.items) expect(item.meta.size === 3, `${rel(ctx, item.key)} listed with size ${item.meta.size}`);
      seen.push(...page.items.map((i) => i.key));
      cursor = page.cursor;
      pages++;
    } while (cursor && pages < 10);
    const want = [...keys].sort();
    expect(JSON.stringify(seen) === JSON.stringify(want), `listed ${seen.map((k) => rel(ctx, k)).join(', ')}, expected ${want.map((k) => rel(ctx, k)).join(', ')}: every key once, ascending, nothing outside the prefix`);
    expect(pages >= 3, `${pages} page(s) of at most 2 for 5 keys`);
    const partial = await ctx.driver.list({ prefix: `${p}c/`, limit: 10 });
    expect(JSON.stringify(partial.items.map((i) => i.key)) === JSON.stringify([`${p}c/d/e`, `${p}c/d/f`]), `prefix list/c/ listed ${partial.items.map((i) => rel(ctx, i.key)).join(', ')}`);
    return `5 keys in ${pages} pages of 2, in key order; a deeper prefix lists its 2`;
  },
};

/**
 * A cursor is the driver's own and goes back to callers (inside the resource
 * listing's), so one it never returned is the caller's mistake: garbled, one
 * of another prefix, or a store's page token such as an S3 ContinuationToken,
 * which S3 and GCS answer with 400 (a 502 storage_error if it reached them).
 * docs/storage-contract.md, `list`.
 */
export const listCursor: ConformanceCheck = {
  name: 'list cursor',
  section: 'core',
  async run(ctx) {
    const p = `${ctx.prefix}cursor/`;
    for (const k of ['a', 'b', 'c']) await put(ctx, p + k, patternStream(3));
    const first = await ctx.driver.list({ prefix: p, limit: 1 });
    expect(first.items.length === 1 && first.cursor !== undefined, `a first page of limit 1 with ${first.items.length} item(s) and ${first.cursor ? 'a' : 'no'} cursor`);
    const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');
    const foreign: Array<[string, string]> = [
      ['not base64url', 'not-a-cursor!'],
      ['bytes that are no key', 'AAAA'],
      ['padded', `${first.cursor}=`],
      ['a store page token', b64(JSON.stringify({ k: `${p}a`, p: false }))],
      ['a key outside the prefix', b64(`${ctx.prefix}listing-outside`)],
      ['another workspace', b64('workspaces/another-ws/a')],
      ['longer than any key', b64(p + 'x'.repeat(1100))],
      ['a control character', b64(`${p}a\r\nb`)],
    ];
    for (const [what, cursor] of foreign) {
      const err = await expectError(ctx.driver.list({ prefix: p, limit: 1, cursor }), 'invalid_request', `list with a cursor never returned (${what})`, ctx.prefix);
      const field = (err as { details?: { field?: unknown } }).details?.field;
      expect(field === 'cursor', `${what}: invalid_request with details.field ${JSON.stringify(field)}, expected "cursor"`);
    }
    const rest = await ctx.driver.list({ prefix: p, limit: 10, cursor: first.cursor! });
    const want = [`${p}b`, `${p}c`];
    expect(JSON.stringify(rest.items.map((i) => i.key)) === JSON.stringify(want), `the returned cursor went on with ${rest.items.map((i) => rel(ctx, i.key)).join(', ')}, expected cursor/b, cursor/c`);
    return `${foreign.length} cursors never returned → invalid_request (field cursor); the returned one goes on after its key`;
  },
};

export const list: ConformanceCheck = {
  name: 'list',
  section: 'core',
  smoke: 'row',
  async run(ctx) {
    const listed = await listKeys(ctx.driver, ctx.prefix);
    const want = [...ctx.written.entries()].map(([key, v]) => ({ key, size: v.size })).sort((a, b) => (a.key < b.key ? -1 : 1));
    expect(JSON.stringify(listed) === JSON.stringify(want), `listed ${show(ctx, listed)}, expected ${show(ctx, want)}`);
    return `${listed.length} object${listed.length === 1 ? '' : 's'} under the prefix, in key order`;
  },
};

export const deleteCheck: ConformanceCheck = {
  name: 'delete',
  section: 'core',
  smoke: 'row',
  async run(ctx) {
    const keys = [...ctx.written.keys()];
    if (keys.length === 0) throw new CheckFailure('not run: no object was written');
    for (const key of keys) {
      await ctx.driver.delete(key);
      ctx.written.delete(key);
      await expectError(ctx.driver.head(key), 'not_found', `head after deleting ${rel(ctx, key)}`, ctx.prefix);
      await ctx.driver.delete(key); // idempotent
    }
    await ctx.driver.delete(`${ctx.prefix}never-written`);
    const listed = await listKeys(ctx.driver, ctx.prefix);
    expect(listed.length === 0, `still listed after delete: ${listed.map((i) => rel(ctx, i.key)).join(', ')}`);
    await expectNoLeftovers(ctx, 'deleting');
    return `${keys.length} object${keys.length === 1 ? '' : 's'} deleted, head → not_found, second delete succeeds`;
  },
};
