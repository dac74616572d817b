import { Readable } from 'node:stream';
import type { ObjectMetaInit } from '../storage/driver.js';
import { SOURCE_FAILURE_MESSAGE, digestStream, patternChunk, patternSha256, patternSource, patternStream, sha256Of } from './bytes.js';
import { type ConformanceCheck, type ConformanceContext, expect, expectError, expectNoLeftovers, expectNothingAt, put, rel, short } from './context.js';
import { CheckFailure, describeError } from './failure.js';

/** The writes of the conformance list (list.ts has the order): all or nothing, within the cap, the body owned by the driver. */

export const SMALL_BYTES = 4096;

/** The key holds `size` bytes with that sha256, by meta and by its bytes read back. */
async function expectHolds(ctx: ConformanceContext, key: string, size: number, sha256: string): Promise<void> {
  const head = await ctx.driver.head(key);
  expect(head.meta.size === size && head.meta.sha256 === sha256, `${rel(ctx, key)}: head says ${head.meta.size} bytes with sha256 ${short(head.meta.sha256)}…, expected ${size} with ${short(sha256)}…`);
  const back = await digestStream((await ctx.driver.read(key)).body);
  expect(back.size === size && back.sha256 === sha256, `${rel(ctx, key)}: read back ${back.size} bytes with sha256 ${short(back.sha256)}…, expected ${size} bytes with ${short(sha256)}…`);
}

export const writeSmall: ConformanceCheck = {
  name: 'write small',
  section: 'core',
  smoke: 'row',
  async run(ctx) {
    const key = `${ctx.prefix}small.bin`;
    const bytes = patternChunk(0, SMALL_BYTES);
    const sha256 = sha256Of(bytes);
    const stored = await put(ctx, key, patternStream(SMALL_BYTES), { maxBytes: SMALL_BYTES, want: { size: SMALL_BYTES, sha256 } });
    expect(stored.meta.size === SMALL_BYTES, `stored size ${stored.meta.size}, expected ${SMALL_BYTES}`);
    expect(stored.meta.sha256 === sha256, `stored sha256 ${short(stored.meta.sha256)}…, expected ${short(sha256)}…`);
    ctx.small = { key, bytes };
    return `${SMALL_BYTES} bytes, sha256 ${short(sha256)}…`;
  },
};

export const roundTrips: ConformanceCheck = {
  name: 'round trips',
  section: 'core',
  async run(ctx) {
    // Empty, one byte, an odd size, and each side of the write unit (where a single request turns into parts).
    const sizes = [...new Set([0, 1, 1024 * 1024 + 3, ctx.unit - 1, ctx.unit, ctx.unit + 1])];
    for (const size of sizes) {
      const key = `${ctx.prefix}rt/${size}.bin`;
      const sha256 = patternSha256(size);
      const stored = await put(ctx, key, patternStream(size, { chunkSize: 100_003 }), { maxBytes: size + 10 });
      expect(stored.meta.size === size && stored.meta.sha256 === sha256, `${size} bytes: stored as ${stored.meta.size} bytes with sha256 ${short(stored.meta.sha256)}…`);
      await expectHolds(ctx, key, size, sha256);
      await expectNoLeftovers(ctx, `the write of ${size} bytes`);
    }
    return `${sizes.join(', ')} bytes, each byte-identical by head and by read`;
  },
};

export const writeParts: ConformanceCheck = {
  name: 'write parts',
  section: 'core',
  smoke: 'row',
  async run(ctx) {
    const key = `${ctx.prefix}parts.bin`;
    const size = 3 * ctx.unit + 7;
    // Streamed with no announced size (like a chunked upstream): never buffered whole.
    const source = patternSource(size);
    let told = 0; // the write's progress (what transfer metrics and job progress show)
    const stored = await put(ctx, key, source.body, { maxBytes: size, progress: (n) => void (told += n) });
    const sha256 = source.sha256();
    expect(stored.meta.size === size, `stored size ${stored.meta.size}, expected ${size}`);
    expect(told === size, `the write's progress told ${told} bytes, expected ${size}`);
    expect(stored.meta.sha256 === sha256, `stored sha256 ${short(stored.meta.sha256)}…, expected ${short(sha256)}…`);
    const back = await digestStream((await ctx.driver.read(key)).body);
    expect(back.size === size && back.sha256 === sha256, `read back ${back.size} bytes with sha256 ${short(back.sha256)}…, expected ${size} bytes with ${short(sha256)}…`);
    await expectNoLeftovers(ctx, 'the write in parts');
    ctx.parts = { key, size, sha256 };
    return `${size} bytes (3 × ${ctx.unit} + 7), read back identical`;
  },
};

export const metaRoundTrip: ConformanceCheck = {
  name: 'meta round trip',
  section: 'core',
  async run(ctx) {
    const key = `${ctx.prefix}meta/report.csv`;
    const meta: ObjectMetaInit = {
      contentType: 'text/csv',
      tier: 'ephemeral',
      createdAt: '2026-11-22T10:00:00.000Z',
      expiresAt: '2126-11-23T10:00:00.000Z',
      storage: { slot: 'archive', root: 'reports/acme', relativePath: 'exports/report.csv' },
      searchIndex: { text: 'invoice Ærø — 4500 €', tags: ['a', 'b'], sourceLabel: 'crm', includeRawContent: false },
    };
    await put(ctx, key, Readable.from([Buffer.from('a,b\n1,2\n')]), { maxBytes: 100, meta });
    const { meta: got } = await ctx.driver.head(key);
    const want = { ...meta, size: 8, sha256: sha256Of('a,b\n1,2\n') };
    expect(JSON.stringify(sorted(got)) === JSON.stringify(sorted(want)), `head gave ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    return 'every meta field as written, non-ASCII text included';
  },
};

/** A plain object with its keys sorted, at every depth (meta compared whatever order a backend keeps). */
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sorted(x)]));
}

export const exactCap: ConformanceCheck = {
  name: 'exact cap',
  section: 'core',
  async run(ctx) {
    const cap = 300_001;
    const ok = await put(ctx, `${ctx.prefix}cap/exact`, patternStream(cap), { maxBytes: cap });
    expect(ok.meta.size === cap, `a body of exactly maxBytes stored as ${ok.meta.size} bytes`);
    const key = `${ctx.prefix}cap/over`;
    let told = 0;
    await expectError(put(ctx, key, patternStream(cap + 1), { maxBytes: cap, progress: (n) => void (told += n) }), 'cap_exceeded', `a ${cap + 1}-byte body with maxBytes ${cap}`, ctx.prefix);
    expect(told <= cap, `the refused write's progress told ${told} bytes, more than maxBytes ${cap}`);
    await expectNothingAt(ctx, key);
    return `${cap} bytes with maxBytes ${cap} stored; one more refused (cap_exceeded), nothing left`;
  },
};

export const sourceError: ConformanceCheck = {
  name: 'source error',
  section: 'core',
  async run(ctx) {
    const key = `${ctx.prefix}fail/halfway`;
    try {
      await put(ctx, key, patternStream(2_000_000, { failAfter: 700_000 }));
    } catch (err) {
      // The source's own error, unchanged (the driver contract).
      expect(err instanceof Error && err.message === SOURCE_FAILURE_MESSAGE, `rejected with ${describeError(err, ctx.prefix)}, expected the source's error`);
      await expectNothingAt(ctx, key);
      return 'rejected with the source error after 700000 bytes; nothing left';
    }
    throw new CheckFailure('a source that failed after 700000 bytes was stored');
  },
};

export const overwrite: ConformanceCheck = {
  name: 'overwrite',
  section: 'core',
  async run(ctx) {
    const key = `${ctx.prefix}overwrite`;
    await put(ctx, key, patternStream(1000, { seed: 1 }));
    await put(ctx, key, patternStream(500, { seed: 3 }));
    await expectHolds(ctx, key, 500, patternSha256(500, 3));
    await expectNoLeftovers(ctx, 'the overwrite (of the previous version)');
    let failed = false;
    await put(ctx, key, patternStream(2000, { seed: 2, failAfter: 1500 })).catch(() => (failed = true));
    expect(failed, 'an overwrite whose source failed after 1500 bytes was stored');
    await expectHolds(ctx, key, 500, patternSha256(500, 3));
    await expectNoLeftovers(ctx, 'the failed overwrite');
    return 'a new version replaces the old, leaving nothing of it; a failed overwrite keeps the object, bytes and meta';
  },
};

export const concurrentWrites: ConformanceCheck = {
  name: 'concurrent writes',
  section: 'core',
  async run(ctx) {
    const key = `${ctx.prefix}race/obj`;
    const sizes = [1000, 120_000, 7, 65_536 + 13];
    for (let round = 0; round < 5; round++) {
      await Promise.all(sizes.map((size, i) => put(ctx, key, patternStream(size, { seed: round * 10 + i, chunkSize: 4096 }))));
      const { meta } = await ctx.driver.head(key);
      ctx.written.set(key, { size: meta.size, sha256: meta.sha256 });
      const got = await digestStream((await ctx.driver.read(key)).body);
      expect(got.size === meta.size && got.sha256 === meta.sha256, `round ${round}: ${got.size} bytes stored, sha256 ${short(got.sha256)}…, while the meta says ${meta.size} bytes, ${short(meta.sha256)}…`);
      const winner = sizes.findIndex((s, i) => s === meta.size && patternSha256(s, round * 10 + i) === meta.sha256);
      expect(winner >= 0, `round ${round}: the stored object is none of the versions written`);
    }
    await expectNoLeftovers(ctx, 'the concurrent writes');
    return `5 rounds of ${sizes.length} writes to one key: each leaves one whole version`;
  },
};

export const overCapWrite: ConformanceCheck = {
  name: 'over-cap write',
  section: 'core',
  smoke: 'row',
  async run(ctx) {
    const key = `${ctx.prefix}over-cap.bin`;
    // A cap past the first part, so the store has started a multipart upload / resumable session to clean up.
    const cap = ctx.unit + 1;
    const source = patternSource(cap + 64 * 1024);
    await expectError(put(ctx, key, source.body, { maxBytes: cap }), 'cap_exceeded', `a ${cap + 64 * 1024}-byte body with maxBytes ${cap}`, ctx.prefix);
    await expectNothingAt(ctx, key);
    return `refused (cap_exceeded) past ${cap} bytes; nothing left`;
  },
};

export const abortedWrite: ConformanceCheck = {
  name: 'aborted write',
  section: 'core',
  smoke: 'row',
  async run(ctx) {
    const key = `${ctx.prefix}aborted.bin`;
    // Past the first part (a multipart upload / session is under way), well before the end.
    const abortAt = ctx.unit + Math.min(1024 * 1024, Math.floor(ctx.unit / 2));
    const controller = new AbortController();
    const source = patternSource(3 * ctx.unit, {
      onProgress: (produced) => {
        if (produced < abortAt) return;
        setImmediate(() => controller.abort());
        return 'stall';
      },
    });
    const signal = AbortSignal.any([controller.signal, ctx.signal]);
    await expectError(put(ctx, key, source.body, { maxBytes: 4 * ctx.unit, signal }), 'aborted', `aborting after ${abortAt} bytes`, ctx.prefix);
    expect(source.body.destroyed, 'the driver did not destroy the body it owned');
    await expectNothingAt(ctx, key);
    return `aborted after ${source.produced} bytes → aborted; nothing left`;
  },
};

export const preAbortedWrite: ConformanceCheck = {
  name: 'pre-aborted write',
  section: 'core',
  async run(ctx) {
    const key = `${ctx.prefix}abort/early`;
    const controller = new AbortController();
    controller.abort();
    const body = patternStream(10);
    await expectError(put(ctx, key, body, { maxBytes: 100, signal: controller.signal }), 'aborted', 'a write whose signal had fired', ctx.prefix);
    expect(body.destroyed, 'the driver did not destroy the body it owned');
    await expectNothingAt(ctx, key);
    return 'refused (aborted), the body destroyed, nothing left';
  },
};
