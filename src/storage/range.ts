import { BlobgateError } from '../errors.js';
import type { ByteRange, ResolvedRange } from './driver.js';

/** Parses a `Range` header of one range (`bytes=s-e`, `bytes=s-`, `bytes=-n`). Returns undefined when absent. */
export function parseRangeHeader(value: string | undefined): ByteRange | undefined {
  if (value === undefined || value === '') return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) {
    throw new BlobgateError('range_not_satisfiable', `Range "${value}" is not one byte range of the form bytes=start-end, bytes=start- or bytes=-length.`);
  }
  if (m[1] === '') return { suffix: Number(m[2]) };
  const start = Number(m[1]);
  if (m[2] === '') return { start };
  const end = Number(m[2]);
  if (end < start) throw new BlobgateError('range_not_satisfiable', `Range "${value}" ends before it starts.`);
  return { start, end };
}

/** Resolves a range against an object size (RFC 9110 §14.1.2); throws `range_not_satisfiable` with details.size. */
export function resolveRange(range: ByteRange, size: number): ResolvedRange {
  if ('suffix' in range) {
    if (range.suffix === 0 || size === 0) throw unsatisfiable(size);
    return { start: Math.max(0, size - range.suffix), end: size - 1 };
  }
  if (range.start >= size) throw unsatisfiable(size);
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}

function unsatisfiable(size: number): BlobgateError {
  return new BlobgateError('range_not_satisfiable', `The range lies outside the object of ${size} bytes.`, { size });
}
