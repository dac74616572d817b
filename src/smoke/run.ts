import { randomUUID } from 'node:crypto';
import type { StorageDriver } from '../storage/driver.js';
import type { StoreRegistry } from '../storage/registry.js';
import type { CheckOutcome, ConformanceCheck, ConformanceContext, RowResult } from '../conformance/context.js';
import { skipReason } from '../conformance/context.js';
import { CheckFailure, describeError } from '../conformance/failure.js';
import { CONFORMANCE_CHECKS, cleanup } from '../conformance/list.js';

/**
 * The storage smoke test, the second runner of the conformance list
 * (src/conformance/list.ts; the first is the contract suite): against each
 * named store, first its gate (`ping`, where the driver has one) — a store
 * that does not answer is reported by that one row, with the cause — then
 * the checks marked as smoke rows, in order (write small, write parts,
 * ranged read, head, list, signed url, tampered url, over-cap write, aborted
 * write, delete), each a row with its timing, then a cleanup row. Everything
 * is written under a fresh prefix `workspaces/_smoke/<uuid>/` and removed by
 * the cleanup whatever happened. Never throws for a store problem: a broken
 * store gives FAIL rows.
 */

/** What `blobgate smoke` runs of the conformance list. */
export const SMOKE_GATES: readonly ConformanceCheck[] = CONFORMANCE_CHECKS.filter((c) => c.smoke === 'gate');
export const SMOKE_CHECKS: readonly ConformanceCheck[] = CONFORMANCE_CHECKS.filter((c) => c.smoke === 'row');

/** A runner's step: a check of the list, or the cleanup. */
interface Step {
  name: string;
  run(ctx: ConformanceContext): Promise<CheckOutcome | string>;
}

export interface SmokeRow {
  check: string;
  ok: RowResult;
  ms: number;
  detail?: string;
}

export interface SmokeStoreReport {
  store: string;
  /** `local`, `s3`, `gcs`, or `unknown` when the store could not be opened. */
  backend: string;
  bucket?: string | null;
  /** Where this run wrote. */
  prefix?: string;
  rows: SmokeRow[];
}

export interface SmokeReport {
  stores: SmokeStoreReport[];
  passed: number;
  failed: number;
  notEnforced: number;
}

/** A URL blobgate signs for a store whose driver has no signUrl (the local store). */
export type SmokeSigner = (store: string, key: string, ttlSeconds: number) => Promise<string>;

export interface SmokeOptions {
  stores: StoreRegistry;
  storeNames: string[];
  /** For drivers without signUrl. */
  signer: SmokeSigner;
  /** Fetches the signed URLs (default: global fetch, no credentials). */
  fetch?: typeof fetch;
  /** Part (S3) / chunk (GCS) size per store; default 8 MiB, the drivers' default. */
  unitBytes?: Record<string, number>;
  /** Per check (and for the cleanup); default 120 s. */
  checkTimeoutMs?: number;
  /** Called as each row completes (progress for a terminal). */
  onRow?: (store: string, row: SmokeRow) => void;
  /**
   * Interrupts the run (Ctrl-C): the running check fails as "interrupted",
   * the remaining checks and stores are skipped, and the cleanup of the
   * current store still runs.
   */
  signal?: AbortSignal;
}

export const SMOKE_ROOT = 'workspaces/_smoke/';
export const DEFAULT_UNIT_BYTES = 8 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 120_000;

export async function runSmoke(opts: SmokeOptions): Promise<SmokeReport> {
  const stores: SmokeStoreReport[] = [];
  for (const name of opts.storeNames) {
    if (opts.signal?.aborted) break;
    if (!opts.stores.has(name)) {
      const row: SmokeRow = { check: 'open store', ok: false, ms: 0, detail: `no store named "${name}" is configured` };
      opts.onRow?.(name, row);
      stores.push({ store: name, backend: 'unknown', rows: [row] });
      continue;
    }
    stores.push(await smokeStore(name, opts.stores.get(name), opts));
  }
  return summarize(stores);
}

async function smokeStore(name: string, driver: StorageDriver, opts: SmokeOptions): Promise<SmokeStoreReport> {
  const prefix = `${SMOKE_ROOT}${randomUUID()}/`;
  const report: SmokeStoreReport = { store: name, backend: driver.backend, bucket: driver.bucket, prefix, rows: [] };
  const timeoutMs = opts.checkTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const base: Omit<ConformanceContext, 'signal'> = {
    driver,
    prefix,
    unit: opts.unitBytes?.[name] ?? DEFAULT_UNIT_BYTES,
    sign: driver.signUrl ? (key, ttl) => driver.signUrl!({ key, expiresInSeconds: ttl }) : (key, ttl) => opts.signer(name, key, ttl),
    fetch: opts.fetch ?? globalThis.fetch,
    attempted: new Set(),
    written: new Map(),
  };
  // One context object shared by the checks (they hand results on); only the signal is per check.
  const ctx = base as ConformanceContext;
  const record = (row: SmokeRow): void => {
    report.rows.push(row);
    opts.onRow?.(name, row);
  };
  // The gate writes nothing: a store that fails it has its one row, and no cleanup to do.
  for (const gate of SMOKE_GATES) {
    if (opts.signal?.aborted || skipReason(gate, ctx)) continue;
    const row = await runCheck(gate, ctx, timeoutMs, opts.signal);
    if (row.ok === false) {
      record(row);
      return report;
    }
  }
  try {
    for (const check of SMOKE_CHECKS) {
      if (opts.signal?.aborted) break;
      if (skipReason(check, ctx)) continue;
      record(await runCheck(check, ctx, timeoutMs, opts.signal));
    }
  } finally {
    // Not interruptible: whatever happened, remove what this run wrote.
    record(await runCheck({ name: 'cleanup', run: cleanup }, ctx, timeoutMs));
  }
  return report;
}

/**
 * Runs one check with its own time limit; any error becomes a FAIL row. A
 * check stopped by its time limit or an interruption has its signal aborted
 * and gets a grace period to settle (an aborted write removes its multipart
 * upload or session), so the cleanup that follows does not race it.
 */
async function runCheck(check: Step, ctx: ConformanceContext, timeoutMs: number, interrupt?: AbortSignal): Promise<SmokeRow> {
  const controller = new AbortController();
  ctx.signal = controller.signal;
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let onInterrupt: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    const stop = (message: string): void => {
      const err = new CheckFailure(message);
      controller.abort(err);
      reject(err);
    };
    timer = setTimeout(() => stop(`timed out after ${timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`}`), timeoutMs);
    onInterrupt = () => stop('interrupted');
    interrupt?.addEventListener('abort', onInterrupt, { once: true });
  });
  const running = check.run(ctx);
  let outcome: CheckOutcome;
  try {
    const result = await Promise.race([running, stopped]);
    outcome = typeof result === 'string' ? { ok: true, detail: result } : { ok: result.ok ?? true, ...(result.detail !== undefined ? { detail: result.detail } : {}) };
  } catch (err) {
    outcome = { ok: false, detail: describeError(err, ctx.prefix) };
  } finally {
    clearTimeout(timer);
    if (onInterrupt) interrupt?.removeEventListener('abort', onInterrupt);
  }
  const ms = Math.round(performance.now() - started);
  if (controller.signal.aborted) await settle(running, Math.min(timeoutMs, SETTLE_GRACE_MS));
  return { check: check.name, ok: outcome.ok ?? true, ms, ...(outcome.detail !== undefined ? { detail: outcome.detail } : {}) };
}

const SETTLE_GRACE_MS = 10_000;

/** Waits until `promise` settled, or `ms` passed. */
async function settle(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.then(() => undefined, () => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** Totals over every row of every store. */
export function summarize(stores: SmokeStoreReport[]): SmokeReport {
  const rows = stores.flatMap((s) => s.rows);
  return {
    stores,
    passed: rows.filter((r) => r.ok === true).length,
    failed: rows.filter((r) => r.ok === false).length,
    notEnforced: rows.filter((r) => r.ok === 'not-enforced').length,
  };
}

/** A store that could not be opened at all: one FAIL row naming why. */
export function unopenedStore(store: string, backend: string, err: unknown): SmokeStoreReport {
  return { store, backend, rows: [{ check: 'open store', ok: false, ms: 0, detail: describeError(err) }] };
}
