import { digestStream, patternStream } from './bytes.js';
import { type ConformanceCheck, checkMeta, expect, expectError, put, rel, short } from './context.js';
import { CheckFailure, describeUnready } from './failure.js';

/**
 * The sections for the driver contract's optional members (src/storage/driver.ts):
 * each runs where the driver has the method and is skipped elsewhere
 * (context.ts skipReason). Only `ping` is part of `blobgate smoke`: the others
 * act on the whole store or bucket (a sweep, the bucket's lifecycle rules),
 * which a smoke run against a live store must not.
 */

export const ping: ConformanceCheck = {
  name: 'ping',
  section: 'ping',
  // The smoke's reachability gate: a store that does not answer is one row with the cause, not a row per check.
  smoke: 'gate',
  async run(ctx) {
    try {
      await ctx.driver.ping!();
    } catch (err) {
      throw new CheckFailure(describeUnready(err));
    }
    return 'the store answers';
  },
};

/** Every object the run wrote still holds its bytes. */
async function expectWrittenIntact(ctx: Parameters<ConformanceCheck['run']>[0], after: string): Promise<void> {
  for (const [key, want] of ctx.written) {
    const got = await digestStream((await ctx.driver.read(key)).body);
    expect(got.size === want.size && got.sha256 === want.sha256, `${after}, ${rel(ctx, key)} holds ${got.size} bytes with sha256 ${short(got.sha256)}…, expected ${want.size} with ${short(want.sha256)}…`);
  }
}

export const debrisSweep: ConformanceCheck = {
  name: 'debris sweep',
  section: 'debris sweep',
  async run(ctx) {
    // Older than a day from now: every piece of debris qualifies, and no stored object may be touched.
    const removed = await ctx.driver.sweepDebris!(new Date(Date.now() + 86_400_000));
    await expectWrittenIntact(ctx, 'after a debris sweep');
    return `swept ${removed} item${removed === 1 ? '' : 's'}; the ${ctx.written.size} stored objects intact`;
  },
};

export const expirySweep: ConformanceCheck = {
  name: 'expiry sweep',
  section: 'expiry sweep',
  async run(ctx) {
    const now = Date.now();
    const past = `${ctx.prefix}expiry/past`;
    const meta = checkMeta();
    await put(ctx, past, patternStream(10), { meta: { ...meta, expiresAt: new Date(now - 60_000).toISOString() } });
    ctx.written.delete(past); // the sweep is to remove it
    const removed = await ctx.driver.sweepExpired!(now);
    expect(removed >= 1, `the sweep removed ${removed} objects, expected the expired one`);
    await expectError(ctx.driver.head(past), 'not_found', 'head of the expired object after the sweep', ctx.prefix);
    await expectWrittenIntact(ctx, 'after an expiry sweep');
    return `the expired object removed; the ${ctx.written.size} unexpired ones intact`;
  },
};

export const lifecycle: ConformanceCheck = {
  name: 'lifecycle',
  section: 'lifecycle',
  async run(ctx) {
    const opts = { expireAfterDays: 30, recordsExpireAfterDays: 90 };
    const first = await ctx.driver.installLifecycle!(opts);
    expect(first.rules.length > 0, 'installLifecycle reported no rule');
    const again = await ctx.driver.installLifecycle!(opts);
    expect(JSON.stringify(again.rules) === JSON.stringify(first.rules), `installed again, the rules changed: ${JSON.stringify(first.rules)} then ${JSON.stringify(again.rules)}`);
    return `${first.rules.length} rules, the same when installed again`;
  },
};
