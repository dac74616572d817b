import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';

/** How many transfers may run and wait, in total and per workspace. */
export interface GateLimits {
  transfers: number;
  queue: number;
  /** Most transfers one workspace runs at once; default: `transfers` (no per-workspace limit). */
  workspaceTransfers?: number;
  /** Most transfers one workspace has waiting; default: `queue`. */
  workspaceQueue?: number;
}

/** The gate's limits as configured (limits.transfers, transfer-queue, workspace-transfers, workspace-transfer-queue). */
export function gateLimits(limits: Config['limits']): GateLimits {
  return { transfers: limits.transfers, queue: limits.transferQueue, workspaceTransfers: limits.workspaceTransfers, workspaceQueue: limits.workspaceTransferQueue };
}

interface Waiter {
  start: () => void;
}

/** The workspace of transfers given none (tests of the gate alone). */
const NO_WORKSPACE = '';

/**
 * The limit on concurrent transfers (HTTP steps and uploads), fair between
 * workspaces. At most `transfers` run at once and at most `workspaceTransfers`
 * of them belong to one workspace, so a workspace whose transfers trickle
 * cannot hold the slots others need. Waiting is bounded in total (`queue`)
 * and per workspace (`workspaceQueue`), so one workspace cannot fill the
 * queue either; beyond a bound a request is refused at once with
 * `overloaded` (503, Retry-After). A freed slot goes to the next workspace in
 * round-robin order that has a transfer waiting and is under its share, so a
 * workspace with many waiting transfers does not starve one with a few.
 *
 * Every transfer's AbortController is tracked, queued or running, so
 * shutdown can abort what is left after its deadline. A transfer whose signal
 * fires while it waits leaves the queue at once and fails with the signal's
 * reason; once started, it is awaited to the end (its write must finish
 * cleaning up before the answer).
 *
 * p-limit has one FIFO queue and keeps an aborted waiter until its turn, so
 * the gate keeps its own: a queue per workspace, served in turn.
 */
export class TransferGate {
  readonly limit: number;
  readonly maxQueue: number;
  readonly workspaceLimit: number;
  readonly workspaceMaxQueue: number;
  private running = 0;
  private readonly runningBy = new Map<string, number>();
  /** Waiters per workspace; the map's order is the round-robin order (a served workspace moves to the end). */
  private readonly waiting = new Map<string, Waiter[]>();
  private waitingCount = 0;
  private readonly tracked = new Set<AbortController>();
  private idleWaiters: Array<() => void> = [];
  private closing = false;

  /** `new TransferGate(limits)`, or `new TransferGate(transfers, queue)` for one pool without workspace shares. */
  constructor(limits: GateLimits | number, queue?: number) {
    const l = typeof limits === 'number' ? { transfers: limits, queue: queue ?? 0 } : limits;
    this.limit = l.transfers;
    this.maxQueue = l.queue;
    this.workspaceLimit = Math.min(l.workspaceTransfers ?? l.transfers, l.transfers);
    this.workspaceMaxQueue = Math.min(l.workspaceQueue ?? l.queue, l.queue);
  }

  get isClosing(): boolean {
    return this.closing;
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waitingCount;
  }

  /** Runs `fn` once the workspace has a slot; the workspace is the tenant whose share it counts against. */
  async run<T>(controller: AbortController, fn: () => Promise<T>, workspace: string = NO_WORKSPACE): Promise<T> {
    if (this.closing) throw new BlobgateError('aborted', 'blobgate is shutting down; retry against another instance.');
    if (controller.signal.aborted) throw reasonOf(controller.signal);
    this.tracked.add(controller);
    try {
      if (this.mayStart(workspace)) {
        this.take(workspace);
      } else {
        this.refuseIfFull(workspace);
        await this.wait(workspace, controller.signal); // the slot is taken for us when we are handed it
        if (controller.signal.aborted) {
          this.release(workspace);
          throw reasonOf(controller.signal);
        }
      }
      try {
        return await fn();
      } finally {
        this.release(workspace);
      }
    } finally {
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

  private mayStart(workspace: string): boolean {
    return this.running < this.limit && this.underShare(workspace) && !this.waiting.has(workspace);
  }

  private underShare(workspace: string): boolean {
    return (this.runningBy.get(workspace) ?? 0) < this.workspaceLimit;
  }

  private take(workspace: string): void {
    this.running++;
    this.runningBy.set(workspace, (this.runningBy.get(workspace) ?? 0) + 1);
  }

  private release(workspace: string): void {
    this.running--;
    const left = (this.runningBy.get(workspace) ?? 1) - 1;
    if (left === 0) this.runningBy.delete(workspace);
    else this.runningBy.set(workspace, left);
    this.dispatch();
  }

  private refuseIfFull(workspace: string): void {
    const mine = this.waiting.get(workspace)?.length ?? 0;
    if (this.waitingCount >= this.maxQueue) {
      throw new BlobgateError('overloaded', `${this.running} transfers are running and ${this.waitingCount} are waiting; retry after a moment.`, { 'retry-after-seconds': 1 });
    }
    if (mine >= this.workspaceMaxQueue) {
      const running = this.runningBy.get(workspace) ?? 0;
      throw new BlobgateError(
        'overloaded',
        `Workspace "${workspace}" has ${running} transfers running and ${mine} waiting, its whole share (limits.workspace-transfers, limits.workspace-transfer-queue); retry after one finishes.`,
        { 'retry-after-seconds': 1, workspace },
      );
    }
  }

  /** Waits until `dispatch` hands this workspace a slot, or leaves the queue and fails when the signal fires. */
  private wait(workspace: string, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.remove(workspace, waiter);
        reject(reasonOf(signal));
      };
      const waiter: Waiter = {
        start: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const queue = this.waiting.get(workspace);
      if (queue) queue.push(waiter);
      else this.waiting.set(workspace, [waiter]);
      this.waitingCount++;
    });
  }

  private remove(workspace: string, waiter: Waiter): void {
    const queue = this.waiting.get(workspace);
    const at = queue ? queue.indexOf(waiter) : -1;
    if (!queue || at < 0) return;
    queue.splice(at, 1);
    this.waitingCount--;
    if (queue.length === 0) this.waiting.delete(workspace);
  }

  /** Hands free slots to waiting workspaces in round-robin order, skipping those at their share. */
  private dispatch(): void {
    while (this.running < this.limit) {
      let next: string | undefined;
      for (const ws of this.waiting.keys()) {
        if (this.underShare(ws)) {
          next = ws;
          break;
        }
      }
      if (next === undefined) return;
      const queue = this.waiting.get(next)!;
      const waiter = queue.shift()!;
      this.waitingCount--;
      this.waiting.delete(next);
      if (queue.length > 0) this.waiting.set(next, queue); // to the back of the round
      this.take(next);
      waiter.start();
    }
  }
}

function reasonOf(signal: AbortSignal): unknown {
  return signal.reason instanceof BlobgateError ? signal.reason : new BlobgateError('aborted', 'The transfer was aborted while it waited for a slot.');
}
