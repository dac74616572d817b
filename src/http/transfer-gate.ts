import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';

/** How many transfers may run and wait: in total, per tenant (an API token) and per workspace. */
export interface GateLimits {
  transfers: number;
  queue: number;
  /** Most transfers one tenant runs at once, over all its workspaces; default: `transfers`. */
  tenantTransfers?: number;
  /** Most transfers one tenant has waiting; default: `queue`. */
  tenantQueue?: number;
  /** Most transfers one workspace runs at once; default: `transfers` (no per-workspace limit). */
  workspaceTransfers?: number;
  /** Most transfers one workspace has waiting; default: `queue`. */
  workspaceQueue?: number;
}

/** The gate's limits as configured (limits.transfers, transfer-queue, token-…, workspace-…). */
export function gateLimits(limits: Config['limits']): GateLimits {
  return {
    transfers: limits.transfers,
    queue: limits.transferQueue,
    tenantTransfers: limits.tokenTransfers,
    tenantQueue: limits.tokenTransferQueue,
    workspaceTransfers: limits.workspaceTransfers,
    workspaceQueue: limits.workspaceTransferQueue,
  };
}

/**
 * Whose shares a transfer counts against. The tenant is the API token (a
 * token granted every workspace is the platform acting for each one: its
 * tenant is the token in that workspace, src/http/auth.ts `tenantOf`); the
 * workspace is the one the transfer writes into.
 */
export interface GateKey {
  tenant: string;
  workspace: string;
}

interface Waiter {
  start: () => void;
}

/** Counts per key; a key at zero is forgotten. */
class Tally {
  private readonly counts = new Map<string, number>();
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  add(key: string, by: number): void {
    const n = this.get(key) + by;
    if (n === 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }
}

/** The key of transfers given none (tests of the gate alone). */
const NO_KEY: GateKey = { tenant: '', workspace: '' };

/**
 * The limit on concurrent transfers (HTTP steps and uploads), fair between
 * tenants and, within them, between workspaces. At most `transfers` run at
 * once, at most `tenantTransfers` of them for one tenant and at most
 * `workspaceTransfers` for one workspace, so a tenant or a workspace whose
 * transfers trickle cannot hold the slots others need (a held slot stays
 * held until the transfer's deadline, so sharing only under contention would
 * come too late). Waiting is bounded the same way (`queue`, `tenantQueue`,
 * `workspaceQueue`); beyond a bound a request is refused at once with
 * `overloaded` (503, Retry-After). A tenant with nothing running or waiting
 * is a newcomer: it is queued even when the queue is full (in up to
 * `transfers` places beyond it), so filling the gate never locks another
 * tenant out.
 *
 * A freed slot goes to the waiting tenant with the fewest transfers running
 * (ties in round-robin order) that is under its share, and within it to its
 * waiting workspace with the fewest running: a newcomer is served next, and
 * one with many waiting does not starve one with a few.
 *
 * Every transfer's AbortController is tracked, queued or running, so
 * shutdown can abort what is left after its deadline. A transfer whose signal
 * fires while it waits leaves the queue at once and fails with the signal's
 * reason; once started, it is awaited to the end (its write must finish
 * cleaning up before the answer).
 *
 * p-limit has one FIFO queue and keeps an aborted waiter until its turn, so
 * the gate keeps its own: a queue per tenant and workspace, served in turn.
 */
export class TransferGate {
  readonly limit: number;
  readonly maxQueue: number;
  readonly tenantLimit: number;
  readonly tenantMaxQueue: number;
  readonly workspaceLimit: number;
  readonly workspaceMaxQueue: number;
  private running = 0;
  private readonly runningByTenant = new Tally();
  private readonly runningByWorkspace = new Tally();
  /** Waiters per tenant, then per workspace; each map's order is the round-robin order (the served one moves to the end). */
  private readonly waiting = new Map<string, Map<string, Waiter[]>>();
  private waitingCount = 0;
  private readonly waitingByTenant = new Tally();
  private readonly waitingByWorkspace = new Tally();
  private readonly tracked = new Set<AbortController>();
  private idleWaiters: Array<() => void> = [];
  private closing = false;

  /** `new TransferGate(limits)`, or `new TransferGate(transfers, queue)` for one pool without shares. */
  constructor(limits: GateLimits | number, queue?: number) {
    const l = typeof limits === 'number' ? { transfers: limits, queue: queue ?? 0 } : limits;
    this.limit = l.transfers;
    this.maxQueue = l.queue;
    this.tenantLimit = Math.min(l.tenantTransfers ?? l.transfers, l.transfers);
    this.tenantMaxQueue = Math.min(l.tenantQueue ?? l.queue, l.queue);
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

  /** Runs `fn` once its tenant and workspace have a slot; a plain string is a workspace that is its own tenant. */
  async run<T>(controller: AbortController, fn: () => Promise<T>, key: GateKey | string = NO_KEY): Promise<T> {
    if (this.closing) throw new BlobgateError('aborted', 'blobgate is shutting down; retry against another instance.');
    if (controller.signal.aborted) throw reasonOf(controller.signal);
    const k = typeof key === 'string' ? { tenant: key, workspace: key } : key;
    this.tracked.add(controller);
    try {
      if (this.mayStart(k)) {
        this.take(k);
      } else {
        this.refuseIfFull(k);
        await this.wait(k, controller.signal); // the slot is taken for us when we are handed it
        if (controller.signal.aborted) {
          this.release(k);
          throw reasonOf(controller.signal);
        }
      }
      try {
        return await fn();
      } finally {
        this.release(k);
      }
    } finally {
      this.tracked.delete(controller);
      if (this.tracked.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /**
   * The refusal run() would answer now for `key` (shutting down, or no slot
   * and a full queue), or undefined when it would run or queue the
   * transfer. A job checks it before it answers 202, so a full gate is
   * refused to the caller, not recorded as a failed job.
   */
  refusal(key: GateKey | string = NO_KEY): BlobgateError | undefined {
    if (this.closing) return new BlobgateError('aborted', 'blobgate is shutting down; retry against another instance.');
    const k = typeof key === 'string' ? { tenant: key, workspace: key } : key;
    if (this.mayStart(k)) return undefined;
    try {
      this.refuseIfFull(k);
      return undefined;
    } catch (err) {
      return err instanceof BlobgateError ? err : undefined;
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

  private mayStart(k: GateKey): boolean {
    return this.running < this.limit && this.underShares(k.tenant, k.workspace) && !this.waiting.get(k.tenant)?.has(k.workspace);
  }

  private underShares(tenant: string, workspace: string): boolean {
    return this.runningByTenant.get(tenant) < this.tenantLimit && this.runningByWorkspace.get(workspace) < this.workspaceLimit;
  }

  private take(k: GateKey): void {
    this.running++;
    this.runningByTenant.add(k.tenant, 1);
    this.runningByWorkspace.add(k.workspace, 1);
  }

  private release(k: GateKey): void {
    this.running--;
    this.runningByTenant.add(k.tenant, -1);
    this.runningByWorkspace.add(k.workspace, -1);
    this.dispatch();
  }

  private refuseIfFull(k: GateKey): void {
    const tenantWaiting = this.waitingByTenant.get(k.tenant);
    if (tenantWaiting >= this.tenantMaxQueue) {
      throw new BlobgateError(
        'overloaded',
        `This API token has ${this.runningByTenant.get(k.tenant)} transfers running and ${tenantWaiting} waiting over its workspaces, its whole share (limits.token-transfers, limits.token-transfer-queue); retry after one finishes.`,
        { 'retry-after-seconds': 1 },
      );
    }
    const mine = this.waitingByWorkspace.get(k.workspace);
    if (mine >= this.workspaceMaxQueue) {
      throw new BlobgateError(
        'overloaded',
        `Workspace "${k.workspace}" has ${this.runningByWorkspace.get(k.workspace)} transfers running and ${mine} waiting, its whole share (limits.workspace-transfers, limits.workspace-transfer-queue); retry after one finishes.`,
        { 'retry-after-seconds': 1, workspace: k.workspace },
      );
    }
    const newcomer = tenantWaiting === 0 && this.runningByTenant.get(k.tenant) === 0;
    if (this.waitingCount >= this.maxQueue && !(newcomer && this.waitingCount < this.maxQueue + this.limit)) {
      throw new BlobgateError('overloaded', `${this.running} transfers are running and ${this.waitingCount} are waiting; retry after a moment.`, { 'retry-after-seconds': 1 });
    }
  }

  /** Waits until `dispatch` hands this key a slot, or leaves the queue and fails when the signal fires. */
  private wait(k: GateKey, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.remove(k, waiter);
        reject(reasonOf(signal));
      };
      const waiter: Waiter = {
        start: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      let byWorkspace = this.waiting.get(k.tenant);
      if (!byWorkspace) this.waiting.set(k.tenant, (byWorkspace = new Map()));
      const queue = byWorkspace.get(k.workspace);
      if (queue) queue.push(waiter);
      else byWorkspace.set(k.workspace, [waiter]);
      this.count(k, 1);
    });
  }

  private count(k: GateKey, by: number): void {
    this.waitingCount += by;
    this.waitingByTenant.add(k.tenant, by);
    this.waitingByWorkspace.add(k.workspace, by);
  }

  private remove(k: GateKey, waiter: Waiter): void {
    const byWorkspace = this.waiting.get(k.tenant);
    const queue = byWorkspace?.get(k.workspace);
    const at = queue ? queue.indexOf(waiter) : -1;
    if (!byWorkspace || !queue || at < 0) return;
    queue.splice(at, 1);
    this.count(k, -1);
    if (queue.length === 0) byWorkspace.delete(k.workspace);
    if (byWorkspace.size === 0) this.waiting.delete(k.tenant);
  }

  /** Hands free slots to waiting keys (see `next`) until none is free or every waiter is at a share. */
  private dispatch(): void {
    while (this.running < this.limit) {
      const k = this.next();
      if (!k) return;
      const byWorkspace = this.waiting.get(k.tenant)!;
      const queue = byWorkspace.get(k.workspace)!;
      const waiter = queue.shift()!;
      this.count(k, -1);
      // The served workspace and tenant go to the back of their rounds (or leave them, when nothing is left).
      byWorkspace.delete(k.workspace);
      if (queue.length > 0) byWorkspace.set(k.workspace, queue);
      this.waiting.delete(k.tenant);
      if (byWorkspace.size > 0) this.waiting.set(k.tenant, byWorkspace);
      this.take(k);
      waiter.start();
    }
  }

  /** The waiting tenant under its share with the fewest running (first in the round on a tie), and its workspace chosen the same way. */
  private next(): GateKey | undefined {
    let best: GateKey | undefined;
    let fewest = Infinity;
    for (const [tenant, byWorkspace] of this.waiting) {
      const running = this.runningByTenant.get(tenant);
      if (running >= this.tenantLimit || running >= fewest) continue;
      const workspace = fewestRunning(byWorkspace.keys(), (ws) => this.runningByWorkspace.get(ws), this.workspaceLimit);
      if (workspace === undefined) continue;
      best = { tenant, workspace };
      fewest = running;
    }
    return best;
  }
}

/** The first of `keys` with the fewest running, among those under `limit`. */
function fewestRunning(keys: Iterable<string>, running: (key: string) => number, limit: number): string | undefined {
  let best: string | undefined;
  let fewest = limit;
  for (const key of keys) {
    const n = running(key);
    if (n < fewest) {
      best = key;
      fewest = n;
    }
  }
  return best;
}

function reasonOf(signal: AbortSignal): unknown {
  return signal.reason instanceof BlobgateError ? signal.reason : new BlobgateError('aborted', 'The transfer was aborted while it waited for a slot.');
}
