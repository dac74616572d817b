import { randomUUID } from 'node:crypto';
import type { StorageDriver } from '../storage/driver.js';
import type { StoreRegistry } from '../storage/registry.js';
import { CHECKS, type Check, type CheckContext, type CheckOutcome, type RowResult, cleanup } from './checks.js';
import { SmokeFailure, describeError } from './errors.js';

/**
 * The storage smoke test: against each named store, the checks of checks.ts
 * in order (write small, write parts, ranged read, head, list, signed url,
 * tampered url, over-cap write, aborted write, delete), each a row with its
 * timing, then a cleanup row. Everything is written under a fresh prefix
 * `workspaces/_smoke/<uuid>/` and removed by the cleanup whatever happened.
 * Never throws for a store problem: a broken store gives FAIL rows.
 */

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
}

export const SMOKE_ROOT = 'workspaces/_smoke/';
export const DEFAULT_UNIT_BYTES = 8 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 120_000;

export async function runSmoke(opts: SmokeOptions): Promise<SmokeReport> {
  const stores: SmokeStoreReport[] = [];
  for (const name of opts.storeNames) {
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
  const base: Omit<CheckContext, 'signal'> = {
    store: name,
    driver,
    prefix,
    unit: opts.unitBytes?.[name] ?? DEFAULT_UNIT_BYTES,
    sign: driver.signUrl ? (key, ttl) => driver.signUrl!({ key, expiresInSeconds: ttl }) : (key, ttl) => opts.signer(name, key, ttl),
    fetch: opts.fetch ?? globalThis.fetch,
    attempted: new Set(),
    written: new Map(),
  };
  // One context object shared by the checks (they hand results on); only the signal is per check.
  const ctx = base as CheckContext;
  const record = (row: SmokeRow): void => {
    report.rows.push(row);
    opts.onRow?.(name, row);
  };
  try {
    for (const check of CHECKS) record(await runCheck(check, ctx, timeoutMs));
  } finally {
    record(await runCheck({ name: 'cleanup', run: cleanup }, ctx, timeoutMs));
  }
  return report;
}

/** Runs one check with its own time limit; any error becomes a FAIL row. */
async function runCheck(check: Check, ctx: CheckContext, timeoutMs: number): Promise<SmokeRow> {
  const controller = new AbortController();
  ctx.signal = controller.signal;
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new SmokeFailure(`timed out after ${Math.round(timeoutMs / 1000)} s`);
      controller.abort(err);
      reject(err);
    }, timeoutMs);
  });
  let outcome: CheckOutcome;
  try {
    const result = await Promise.race([check.run(ctx), timeout]);
    outcome = typeof result === 'string' ? { ok: true, detail: result } : { ok: result.ok ?? true, ...(result.detail !== undefined ? { detail: result.detail } : {}) };
  } catch (err) {
    outcome = { ok: false, detail: describeError(err) };
  } finally {
    clearTimeout(timer);
  }
  const ms = Math.round(performance.now() - started);
  return { check: check.name, ok: outcome.ok ?? true, ms, ...(outcome.detail !== undefined ? { detail: outcome.detail } : {}) };
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
