import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Config } from '../config/types.js';
import { isBlobgateError } from '../errors.js';
import type { StorageDriver } from '../storage/driver.js';
import { StoreRegistry } from '../storage/registry.js';

/**
 * `blobgate config check --connect`: each configured store is opened on its
 * own and asked, in order, what an operator needs to know before starting
 * the gateway on it — can it be opened (credentials resolve), is it
 * reachable with its bucket present (the driver's readiness probe, as
 * /readyz), and may blobgate write, read back and delete an object. The
 * first step that fails ends that store's run; the others still run.
 *
 * A probe object of a few bytes goes to `workspaces/_config-check/<uuid>/`
 * and is deleted again. A failure is described by blobgate's error code and
 * the cause's name and status only — never a backend message or a value
 * from the configuration, so no credential can be echoed.
 */

export const PROBE_ROOT = 'workspaces/_config-check/';
/** A probe step that takes longer than this fails (the SDKs retry a refused connection for a while). */
const STEP_TIMEOUT_MS = 30_000;

export type ProbeStep = 'open' | 'reach' | 'write' | 'read' | 'delete';
export const PROBE_STEPS: readonly ProbeStep[] = ['open', 'reach', 'write', 'read', 'delete'];

export interface ProbeResult {
  step: ProbeStep;
  ok: boolean;
  /** What failed, in a line; or what a passing step found worth saying. */
  detail?: string;
}

export interface StoreProbe {
  store: string;
  backend: string;
  bucket: string | null;
  ok: boolean;
  steps: ProbeResult[];
}

export async function probeStores(config: Config): Promise<StoreProbe[]> {
  const out: StoreProbe[] = [];
  for (const [name, store] of Object.entries(config.stores)) out.push(await probeStore(config, name, store));
  return out;
}

async function probeStore(config: Config, name: string, store: Config['stores'][string]): Promise<StoreProbe> {
  const steps: ProbeResult[] = [];
  const report = (driver?: StorageDriver): StoreProbe => ({ store: name, backend: driver?.backend ?? store.driver, bucket: driver?.bucket ?? null, ok: steps.every((s) => s.ok), steps });
  let registry: StoreRegistry;
  try {
    // One store at a time, so one that cannot open does not hide the others; local tmp/ is left alone
    // (a gateway may be writing there).
    registry = await timed(StoreRegistry.open({ ...config, stores: { [name]: store } }, { cleanLocalTmp: false }));
  } catch (err) {
    steps.push({ step: 'open', ok: false, detail: describe(err) });
    return report();
  }
  steps.push({ step: 'open', ok: true });
  const driver = registry.get(name);
  try {
    await run(steps, driver);
  } finally {
    await registry.close().catch(() => undefined);
  }
  return report(driver);
}

async function run(steps: ProbeResult[], driver: StorageDriver): Promise<void> {
  const step = async (name: ProbeStep, work: () => Promise<string | undefined>): Promise<boolean> => {
    try {
      const detail = await timed(work());
      steps.push({ step: name, ok: true, ...(detail ? { detail } : {}) });
      return true;
    } catch (err) {
      steps.push({ step: name, ok: false, detail: describe(err) });
      return false;
    }
  };
  if (!(await step('reach', async () => (driver.ping ? (await driver.ping(), undefined) : 'this backend has no readiness probe')))) return;

  const key = `${PROBE_ROOT}${randomUUID()}/probe.bin`;
  const bytes = randomBytes(32);
  const written = await step('write', async () => {
    await driver.write({ key, body: Readable.from([bytes]), maxBytes: bytes.length, meta: { contentType: 'application/octet-stream', tier: 'retained', createdAt: new Date().toISOString() }, signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
    return undefined;
  });
  if (!written) return;
  try {
    await step('read', async () => {
      const { body } = await driver.read(key);
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      if (!Buffer.concat(chunks).equals(bytes)) throw new Error('the probe read back other bytes than were written');
      return undefined;
    });
  } finally {
    await step('delete', async () => {
      await driver.delete(key);
      // Deleted means gone: a head must now say not_found.
      const left = await driver.head(key).then(
        () => true,
        (err: unknown) => {
          if (isBlobgateError(err, 'not_found')) return false;
          throw err;
        },
      );
      if (left) throw new Error(`the probe object is still there after its delete (${key})`);
      return undefined;
    });
  }
}

/** Rejects when `promise` takes longer than a step may. */
async function timed<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${STEP_TIMEOUT_MS / 1000} s`)), STEP_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One line for a failure: blobgate's own message (written for operators, no
 * backend text), then the innermost cause's name, code and HTTP status.
 * Never a cause's message: an SDK message may quote the request.
 */
function describe(err: unknown): string {
  if (isBlobgateError(err) && err.details?.reason === 'bucket_missing') return `bucket missing: ${err.message}`;
  const own = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  const cause = innermost(err);
  const facts = cause === err ? [] : [cause.name, cause.code, cause.status].filter((v) => v !== undefined && v !== '' && v !== 'Error');
  return facts.length > 0 ? `${own} (${facts.join(', ')})` : own;
}

function innermost(err: unknown): { name?: string; code?: string | number; status?: number } {
  let e = err as { cause?: unknown; name?: string; code?: unknown; status?: unknown; $metadata?: { httpStatusCode?: number }; response?: { status?: number } } | undefined;
  for (let i = 0; i < 5 && e && typeof e === 'object' && e.cause && typeof e.cause === 'object'; i++) e = e.cause as typeof e;
  if (!e || typeof e !== 'object') return {};
  const status = [e.status, e.$metadata?.httpStatusCode, e.response?.status].find((v): v is number => typeof v === 'number');
  return {
    ...(typeof e.name === 'string' ? { name: e.name } : {}),
    ...(typeof e.code === 'string' || typeof e.code === 'number' ? { code: e.code } : {}),
    ...(status !== undefined ? { status } : {}),
  };
}

/** The text form: one line per store, its steps and the first failure. */
export function formatProbes(probes: StoreProbe[]): string {
  return probes
    .map((p) => {
      const where = `${p.store} (${p.backend}${p.bucket ? `, bucket ${p.bucket}` : ''})`;
      const passed = p.steps.filter((s) => s.ok).map((s) => s.step);
      const failed = p.steps.find((s) => !s.ok);
      const notes = p.steps.filter((s) => s.ok && s.detail).map((s) => `${s.step}: ${s.detail}`);
      const head = `  ${p.ok ? 'ok  ' : 'FAIL'} ${where}: ${passed.length > 0 ? passed.join(', ') : 'nothing'} ok`;
      return [head, ...(failed ? [`       ${failed.step} failed: ${failed.detail ?? 'failed'}`] : []), ...notes.map((n) => `       ${n}`)].join('\n');
    })
    .join('\n');
}
