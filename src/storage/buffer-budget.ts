import { BlobgateError } from '../errors.js';

/**
 * The process-wide budget of transfer buffers (config `limits.buffer-bytes`,
 * README "Memory"): the part buffers of every S3 multipart write, the chunk
 * buffers of every GCS resumable upload and the parts of every GCS parallel
 * composite upload come from here, so what all transfers together hold in part buffers stays under one
 * number however many run at once.
 *
 * - A buffer is taken with `acquire(size, signal)` and given back with
 *   `release()` of its lease (idempotent). Given-back buffers are kept for
 *   reuse by the next write of the same size (no allocation, no page faults,
 *   no garbage for the GC to find late), and dropped after IDLE_MS unused or
 *   when their room is needed for a buffer of another size. Kept buffers
 *   count against the budget.
 * - Waiting for a buffer is backpressure, not a failure: the writer stops
 *   reading its body (so the upstream socket fills and TCP slows the sender)
 *   until a buffer is given back. Only the signal ends a wait (`aborted`).
 * - Fairness: waiters are served in arrival order, and a transfer asking
 *   for its first buffer (`first`) goes ahead of those asking for one more,
 *   so a new transfer is never starved by running ones taking turns. A
 *   buffer larger than the whole budget is granted when no buffer is in
 *   use, so a single transfer can always get at least one part.
 * - A writer never waits for a buffer while it holds one it is still
 *   filling: it waits only while its others are being uploaded, and those
 *   come back. So the budget cannot deadlock.
 *
 * Alternatives weighed: a budget per store (transfers into two stores would
 * still add up), and a cap of concurrent transfers alone (limits.transfers:
 * it bounds how many run, not what each holds, and part sizes differ per
 * store).
 */
export interface BufferLease {
  /** Exactly the size asked for; its bytes are whatever a previous writer left (never sent beyond what this one filled). */
  readonly buffer: Buffer;
  /** Gives the buffer back. Idempotent. Call only once nothing reads the buffer any more (its request settled). */
  release(): void;
}

export interface BufferCounts {
  /** The budget in bytes. */
  limit: number;
  /** Bytes of buffers handed out and not given back. */
  inUse: number;
  /** Bytes of given-back buffers kept for reuse. */
  idle: number;
  /** acquire() calls waiting for room. */
  waiting: number;
}

/** Given-back buffers unused this long are dropped (their memory goes back at the next GC). */
const IDLE_MS = 5_000;

interface Waiter {
  size: number;
  grant(buffer: Buffer): void;
}

export class BufferBudget {
  readonly limit: number;
  private inUse = 0;
  private idleBytes = 0;
  private readonly idle = new Map<number, Array<{ buffer: Buffer; since: number }>>();
  /** Waiters for a first buffer, then waiters for one more: each served in arrival order. */
  private readonly firsts: Waiter[] = [];
  private readonly mores: Waiter[] = [];
  private trimTimer: NodeJS.Timeout | undefined;

  constructor(limitBytes: number) {
    if (!Number.isSafeInteger(limitBytes) || limitBytes < 1) throw new RangeError(`the buffer budget must be a positive number of bytes, got ${limitBytes}`);
    this.limit = limitBytes;
  }

  counts(): BufferCounts {
    return { limit: this.limit, inUse: this.inUse, idle: this.idleBytes, waiting: this.firsts.length + this.mores.length };
  }

  /**
   * A buffer of `size` bytes once the budget has room. `first`: the caller
   * holds no buffer of this budget yet. Rejects `aborted` (or the signal's
   * BlobgateError reason) when the signal fires first; nothing is held then.
   */
  acquire(size: number, signal: AbortSignal, first = false): Promise<BufferLease> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    const queue = first ? this.firsts : this.mores;
    // Arrival order: a newcomer waits behind those already waiting (a first buffer only behind other firsts).
    if ((first ? this.firsts.length : this.firsts.length + this.mores.length) === 0) {
      const buffer = this.take(size);
      if (buffer) return Promise.resolve(this.lease(buffer));
    }
    return new Promise<BufferLease>((resolve, reject) => {
      const onAbort = (): void => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        reject(abortReason(signal));
        this.pump(); // a waiter behind this one may fit now
      };
      const waiter: Waiter = {
        size,
        grant: (buffer) => {
          signal.removeEventListener('abort', onAbort);
          resolve(this.lease(buffer));
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      queue.push(waiter);
    });
  }

  private lease(buffer: Buffer): BufferLease {
    let released = false;
    return {
      buffer,
      release: () => {
        if (released) return;
        released = true;
        this.give(buffer);
      },
    };
  }

  /** A buffer of `size` if the budget has room now (reused, or new after dropping idle ones), else undefined. */
  private take(size: number): Buffer | undefined {
    const kept = this.idle.get(size)?.pop();
    if (kept) {
      this.idleBytes -= size;
      this.inUse += size;
      return kept.buffer;
    }
    if (this.inUse + size > this.limit && this.inUse > 0) return undefined;
    // Room for a new one, once idle buffers of other sizes (or of none) are dropped as needed.
    for (const [s, list] of this.idle) {
      while (list.length > 0 && this.inUse + this.idleBytes + size > this.limit) {
        list.pop();
        this.idleBytes -= s;
      }
      if (list.length === 0) this.idle.delete(s);
    }
    this.inUse += size;
    // Not from Node's shared pool: a part buffer is large and lives long.
    return Buffer.allocUnsafeSlow(size);
  }

  private give(buffer: Buffer): void {
    const size = buffer.length;
    this.inUse -= size;
    const list = this.idle.get(size) ?? [];
    list.push({ buffer, since: Date.now() });
    this.idle.set(size, list);
    this.idleBytes += size;
    this.pump();
    this.scheduleTrim();
  }

  private pump(): void {
    for (const queue of [this.firsts, this.mores]) {
      while (queue.length > 0) {
        const buffer = this.take(queue[0]!.size);
        if (!buffer) return; // the head of the line waits; nobody passes it
        queue.shift()!.grant(buffer);
      }
    }
  }

  private scheduleTrim(): void {
    if (this.trimTimer || this.idleBytes === 0) return;
    this.trimTimer = setTimeout(() => {
      this.trimTimer = undefined;
      const cutoff = Date.now() - IDLE_MS;
      for (const [s, list] of this.idle) {
        const keep = list.filter((k) => k.since > cutoff);
        this.idleBytes -= (list.length - keep.length) * s;
        if (keep.length > 0) this.idle.set(s, keep);
        else this.idle.delete(s);
      }
      this.scheduleTrim();
    }, IDLE_MS);
    this.trimTimer.unref();
  }
}

function abortReason(signal: AbortSignal): BlobgateError {
  const reason: unknown = signal.reason;
  if (reason instanceof BlobgateError) return reason;
  return new BlobgateError('aborted', 'The transfer was aborted while it waited for a transfer buffer; nothing was stored.', undefined, { cause: reason });
}

/**
 * The budget when config says nothing (limits.buffer-bytes): 24 S3 parts of
 * the default 8 MiB. 32 concurrent 64 MiB S3 persists (`npm run bench --
 * --stores=s3 --only=concurrency`, three alternating pairs on an idle 2-core
 * machine) peaked at 359–374 MiB with it against 432–441 MiB with 256 MiB, at
 * the same aggregate throughput (65.9–71.4 against 67.0–74.8 MiB/s): the
 * store, not the number of parts in flight, bounds the aggregate.
 */
export const DEFAULT_BUFFER_BYTES = 192 * 1024 * 1024;
