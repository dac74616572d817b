/**
 * The janitor of one store: owns cleanup until it is done (README
 * "Failure behaviour").
 *
 * - `discard()` runs one cleanup (abort a multipart upload, cancel a session,
 *   delete a staging object, unlink a file). The caller — a write that just
 *   failed, or one that committed and leaves a staging object behind — waits
 *   for the first attempt, at most `attemptWaitMs`; a cleanup that fails is
 *   kept and retried with exponential backoff (capped at `retryMaxMs`) for as
 *   long as the process lives. At most `maxPending` cleanups are kept; beyond
 *   that one is dropped with a log event, and the sweep is what reclaims it.
 * - `start(sweep)` runs the driver's sweep of what a crashed process left
 *   (debris older than `graceMs`) at once and then every `sweepIntervalMs`.
 *   The age is what keeps a sweep off another replica's live write: every
 *   replica's clock must agree within the grace period, and no write may run
 *   longer than it.
 *
 * Everything is counted (`counts()`, read by the metrics of the HTTP layer,
 * which this module does not know) and every failure is one event for the
 * log (`onEvent`). Retry and sweep timers are unref'd: a pending cleanup
 * never keeps a process alive; `close()` makes one last bounded attempt at
 * each.
 */

export interface JanitorOptions {
  /** The store's name, in events and metrics. */
  store: string;
  /** Longest `discard()` waits for the first attempt (default 5 s); the attempt itself runs on. */
  attemptWaitMs?: number;
  /** First retry delay (default 1 s), doubled per failure up to `retryMaxMs` (default 60 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Most cleanups kept at once (default 1000). */
  maxPending?: number;
  /** Debris younger than this is never swept (default 6 h). */
  graceMs?: number;
  /** Sweep period after the first sweep at start (default 1 h; 0 = at start only). */
  sweepIntervalMs?: number;
}

export type JanitorEvent =
  | { type: 'cleanup-failed'; store: string; what: string; attempt: number; retryInMs: number; err: unknown }
  | { type: 'cleanup-dropped'; store: string; what: string; reason: 'queue-full' | 'closed'; err: unknown }
  | { type: 'cleanup-recovered'; store: string; what: string; attempts: number }
  | { type: 'swept'; store: string; removed: number }
  | { type: 'sweep-failed'; store: string; err: unknown };

export interface CleanupCounts {
  /** Cleanups not done yet: running or waiting for their next attempt. */
  pending: number;
  /** Cleanups completed (first attempt or a retry). */
  done: number;
  /** Attempts that failed (each is retried, or dropped). */
  failed: number;
  /** Cleanups given up: the queue was full or the janitor closed. */
  dropped: number;
  /** Leftovers the sweeps removed. */
  swept: number;
}

/** A sweep of crash debris older than `olderThan`; resolves with how many items it removed. */
export type Sweep = (olderThan: Date) => Promise<number>;

interface Task {
  what: string;
  run: () => Promise<void>;
  attempts: number;
  timer?: NodeJS.Timeout;
}

export const JANITOR_DEFAULTS = {
  attemptWaitMs: 5_000,
  retryBaseMs: 1_000,
  retryMaxMs: 60_000,
  maxPending: 1_000,
  graceMs: 6 * 3600_000,
  sweepIntervalMs: 3600_000,
} as const;

export class Janitor {
  readonly store: string;
  private readonly opts: Required<Omit<JanitorOptions, 'store'>>;
  private readonly tasks = new Set<Task>();
  private readonly listeners = new Set<(e: JanitorEvent) => void>();
  private readonly tally = { done: 0, failed: 0, dropped: 0, swept: 0 };
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private sweep: Sweep | undefined;
  private closed = false;

  constructor(opts: JanitorOptions) {
    const { store, ...rest } = opts;
    this.store = store;
    this.opts = { ...JANITOR_DEFAULTS, ...definedOnly(rest) };
  }

  /** Subscribes to events (one per failure, recovery and sweep that removed something). Returns the unsubscribe. */
  onEvent(listener: (e: JanitorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  counts(): CleanupCounts {
    return { pending: this.tasks.size, ...this.tally };
  }

  /**
   * Runs a cleanup and owns it until it succeeded. `run` must be safe to run
   * again (an abort or delete of something already gone counts as done) and
   * must reject while anything it is meant to remove may remain. Never rejects.
   */
  async discard(what: string, run: () => Promise<void>): Promise<void> {
    const task: Task = { what, run, attempts: 0 };
    this.tasks.add(task);
    let timer: NodeJS.Timeout | undefined;
    // Not unref'd: someone awaits this, for a bounded time.
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.opts.attemptWaitMs);
    });
    try {
      await Promise.race([this.attempt(task), waited]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Starts sweeping with the driver's sweep: now, then every sweepIntervalMs. */
  start(sweep: Sweep): void {
    if (this.closed || this.sweep) return;
    this.sweep = sweep;
    void this.sweepNow();
    if (this.opts.sweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => void this.sweepNow(), this.opts.sweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  /** One sweep now (or joins the one running); resolves with how many items it removed, 0 when it failed. */
  sweepNow(): Promise<number> {
    const sweep = this.sweep;
    if (!sweep) return Promise.resolve(0);
    this.sweeping ??= sweep(new Date(Date.now() - this.opts.graceMs))
      .then((removed) => {
        this.tally.swept += removed;
        if (removed > 0) this.emit({ type: 'swept', store: this.store, removed });
        return removed;
      })
      .catch((err: unknown) => {
        this.emit({ type: 'sweep-failed', store: this.store, err });
        return 0;
      })
      .finally(() => {
        this.sweeping = undefined;
      });
    return this.sweeping;
  }

  /** Stops the timers and makes one last attempt at every pending cleanup, bounded by attemptWaitMs. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    const last = [...this.tasks].filter((t) => t.timer !== undefined);
    for (const t of last) clearTimeout(t.timer);
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.opts.attemptWaitMs);
    });
    await Promise.race([Promise.all(last.map((t) => this.attempt(t))), waited]);
    clearTimeout(timer);
  }

  private async attempt(task: Task): Promise<void> {
    task.timer = undefined;
    task.attempts++;
    try {
      await task.run();
    } catch (err) {
      this.tally.failed++;
      this.retryLater(task, err);
      return;
    }
    this.tasks.delete(task);
    this.tally.done++;
    if (task.attempts > 1) this.emit({ type: 'cleanup-recovered', store: this.store, what: task.what, attempts: task.attempts });
  }

  private retryLater(task: Task, err: unknown): void {
    const reason = this.closed ? 'closed' : this.tasks.size > this.opts.maxPending ? 'queue-full' : undefined;
    if (reason) {
      this.tasks.delete(task);
      this.tally.dropped++;
      this.emit({ type: 'cleanup-dropped', store: this.store, what: task.what, reason, err });
      return;
    }
    const full = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** (task.attempts - 1));
    const retryInMs = Math.round(full / 2 + (Math.random() * full) / 2);
    this.emit({ type: 'cleanup-failed', store: this.store, what: task.what, attempt: task.attempts, retryInMs, err });
    task.timer = setTimeout(() => void this.attempt(task), retryInMs);
    task.timer.unref();
  }

  private emit(e: JanitorEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a listener's failure is not the janitor's
      }
    }
  }
}

/** One log line per janitor event: level, fields (never a request's headers or body) and message. */
export function cleanupLogLine(e: JanitorEvent): { level: 'warn' | 'info'; fields: Record<string, unknown>; msg: string } {
  switch (e.type) {
    case 'cleanup-failed':
      return { level: 'warn', fields: { store: e.store, what: e.what, attempt: e.attempt, retryInMs: e.retryInMs, error: describeStoreError(e.err) }, msg: 'store cleanup failed; retrying' };
    case 'cleanup-dropped':
      return { level: 'warn', fields: { store: e.store, what: e.what, reason: e.reason, error: describeStoreError(e.err) }, msg: 'store cleanup given up; the sweep will reclaim it' };
    case 'cleanup-recovered':
      return { level: 'info', fields: { store: e.store, what: e.what, attempts: e.attempts }, msg: 'store cleanup done after retries' };
    case 'swept':
      return { level: 'info', fields: { store: e.store, removed: e.removed }, msg: 'store sweep removed crash leftovers' };
    case 'sweep-failed':
      return { level: 'warn', fields: { store: e.store, error: describeStoreError(e.err) }, msg: 'store sweep failed' };
  }
}

export interface ErrorSummary {
  name?: string;
  code?: string | number;
  status?: number;
  message?: string;
  cause?: ErrorSummary;
}

/** What a log line may say about a store's error: its kind and cause chain, never a request's headers or body. */
export function describeStoreError(err: unknown, depth = 0): ErrorSummary {
  if (typeof err !== 'object' || err === null) return { message: String(err).slice(0, 200) };
  const e = err as { name?: unknown; code?: unknown; status?: unknown; message?: unknown; cause?: unknown; $metadata?: { httpStatusCode?: unknown }; response?: { status?: unknown } };
  const status = [e.status, e.$metadata?.httpStatusCode, e.response?.status, e.code].find((v): v is number => typeof v === 'number');
  return {
    ...(typeof e.name === 'string' ? { name: e.name } : {}),
    ...(typeof e.code === 'string' || typeof e.code === 'number' ? { code: e.code } : {}),
    ...(status === undefined ? {} : { status }),
    // SDK messages can be long (a whole XML or JSON answer): the first line, shortened.
    ...(typeof e.message === 'string' ? { message: e.message.split('\n')[0]!.slice(0, 200) } : {}),
    ...(e.cause !== undefined && depth < 3 ? { cause: describeStoreError(e.cause, depth + 1) } : {}),
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
