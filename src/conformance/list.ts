import { abortedWrite, concurrentWrites, exactCap, metaRoundTrip, overCapWrite, overwrite, preAbortedWrite, roundTrips, sourceError, writeParts, writeSmall } from './writes.js';
import { debrisSweep, expirySweep, lifecycle, ping } from './capabilities.js';
import { type CheckOutcome, type ConformanceCheck, type ConformanceContext, expectNoLeftovers, listKeys } from './context.js';
import { CheckFailure, describeError } from './failure.js';
import { deleteCheck, head, list, listCursor, listPages, missingObjects, rangeEdges, rangedRead } from './reads.js';
import { signedUrl, tamperedUrl } from './signing.js';

/**
 * The conformance list, in the order both runners run it against one store
 * with one context (checks hand results on: "ranged read" reads the object
 * "write small" wrote, "list" and "delete" see every object the checks
 * before them left). The rows of `blobgate smoke` are the checks marked
 * `smoke: 'row'`, in this order; a runner ends with cleanup(), pass or fail.
 * docs/storage-contract.md#the-conformance-list
 */
export const CONFORMANCE_CHECKS: readonly ConformanceCheck[] = [
  ping,
  writeSmall,
  roundTrips,
  writeParts,
  metaRoundTrip,
  rangedRead,
  rangeEdges,
  head,
  missingObjects,
  exactCap,
  sourceError,
  overwrite,
  concurrentWrites,
  preAbortedWrite,
  listPages,
  listCursor,
  list,
  signedUrl,
  tamperedUrl,
  overCapWrite,
  abortedWrite,
  debrisSweep,
  expirySweep,
  lifecycle,
  deleteCheck,
];

/**
 * Removes everything the run wrote: whatever is listed under the prefix plus
 * every key a check tried to write (a listing could miss a key; deleting an
 * absent key succeeds). Then lists again: the row passes when nothing is left.
 */
export async function cleanup(ctx: ConformanceContext): Promise<CheckOutcome | string> {
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
    await expectNoLeftovers(ctx, 'the run').catch((err: unknown) => failures.push(describeError(err, ctx.prefix)));
  }
  if (failures.length > 0) throw new CheckFailure(`could not verify that nothing is left under ${ctx.prefix}: ${failures[0]}${failures.length > 1 ? ` (+${failures.length - 1} more)` : ''}`);
  return removed === 0 ? `nothing left under ${ctx.prefix}` : `removed ${removed} leftover object${removed === 1 ? '' : 's'}; nothing left under ${ctx.prefix}`;
}
