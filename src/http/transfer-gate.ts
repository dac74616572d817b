import pLimit, { type LimitFunction } from 'p-limit';
import { BlobgateError } from '../errors.js';

/**
 * The global limit on concurrent transfers (HTTP steps and uploads), with a
 * bounded wait queue: beyond both, a request is refused at once with
 * `overloaded` (503, Retry-After). Every transfer's AbortController is
 * tracked, queued or running, so shutdown can abort what is left after its
 * deadline. A queued transfer whose signal fired while waiting (client gone,
 * total-timeout) is not started.
 */
export class TransferGate {
  private readonly limiter: LimitFunction;
  private readonly tracked = new Set<AbortController>();
  private idleWaiters: Array<() => void> = [];
  private closing = false;
  /**
   * Transfers admitted and still wanted: running, or waiting for a slot.
   * p-limit keeps an aborted waiter in its queue (and in pendingCount) until
   * its turn comes; counting our own keeps clients that gave up from filling
   * the queue.
   */
  private admitted = 0;

  constructor(
    readonly limit: number,
    readonly maxQueue: number,
  ) {
    this.limiter = pLimit(limit);
  }

  get isClosing(): boolean {
    return this.closing;
  }

  get active(): number {
    return this.limiter.activeCount;
  }

  get queued(): number {
    return Math.max(0, this.admitted - this.limiter.activeCount);
  }

  async run<T>(controller: AbortController, fn: () => Promise<T>): Promise<T> {
    if (this.closing) throw new BlobgateError('aborted', 'blobgate is shutting down; retry against another instance.');
    if (this.admitted >= this.limit + this.maxQueue) {
      throw new BlobgateError('overloaded', `${this.limit} transfers are running and ${this.maxQueue} are waiting; retry after a moment.`, { 'retry-after-seconds': 1 });
    }
    this.tracked.add(controller);
    let onAbort: (() => void) | undefined;
    let started = false;
    let counted = true;
    this.admitted++;
    const release = (): void => {
      if (counted) this.admitted--;
      counted = false;
    };
    try {
      const task = this.limiter(async () => {
        if (controller.signal.aborted) throw reasonOf(controller.signal);
        started = true;
        return fn();
      });
      // A transfer whose signal fires while it waits fails now, not when a slot frees. Once
      // started, it is awaited to the end: its write must finish cleaning up before the answer.
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => {
          if (started) return;
          release();
          reject(reasonOf(controller.signal));
        };
        controller.signal.addEventListener('abort', onAbort, { once: true });
      });
      task.catch(() => undefined);
      aborted.catch(() => undefined);
      return await Promise.race([task, aborted]);
    } finally {
      release();
      if (onAbort) controller.signal.removeEventListener('abort', onAbort);
      this.tracked.delete(controller);
      if (this.tracked.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Refuse new transfers from now on. */
  close(): void {
    this.closing = true;
  }

  /** Resolves when no transfer is queued or running. */
  idle(): Promise<void> {
    if (this.tracked.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  abortAll(reason: BlobgateError): void {
    for (const c of this.tracked) c.abort(reason);
  }
}

function reasonOf(signal: AbortSignal): unknown {
  return signal.reason instanceof BlobgateError ? signal.reason : new BlobgateError('aborted', 'The transfer was aborted while it waited for a slot.');
}
