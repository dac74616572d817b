import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';
import type { SecretsProvider } from '../secrets/provider.js';
import type { StoreRegistry } from '../storage/registry.js';
import type { UpstreamGuard } from '../upstream/guard.js';
import { CallbackLanes, deliverCallback } from './callback.js';
import { JobEngine } from './engine.js';
import { JobStore } from './job-store.js';

export interface JobLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

/**
 * The job engine over the records of the store config names (jobs.store,
 * default the retained tier's): a log line per job that ends and per
 * record write that fails, and the job's callback, if it asked for one.
 */
export function jobEngineFor(config: Config, stores: StoreRegistry, deps: { log: () => JobLog | undefined; guard: UpstreamGuard; secrets: SecretsProvider }): JobEngine {
  const driver = stores.get(config.jobs.store);
  if (!driver.records) throw new BlobgateError('internal', `Store "${config.jobs.store}" keeps no records; jobs need a store that does.`);
  const lanes = new CallbackLanes();
  const engine: JobEngine = new JobEngine(new JobStore(driver.records), {
    heartbeatMs: config.jobs.heartbeatSeconds * 1000,
    lostAfterMs: config.jobs.lostAfterSeconds * 1000,
    retentionMs: config.jobs.retentionSeconds * 1000,
    idempotencyRetentionMs: config.jobs.idempotencyRetentionSeconds * 1000,
    onWriteError: (err, job) => deps.log()?.warn({ err, job: job.id, workspace: job.workspace }, 'a job record write failed'),
    onDone: (job) => {
      deps.log()?.info({ job: job.id, workspace: job.workspace, state: job.state, bytes: job.bytes, ...(job.error ? { code: job.error.code } : {}) }, 'job ended');
      if (job.callback) {
        // Kept by the engine, so a graceful shutdown waits for it (within its deadline) before the process exits.
        engine.keep(deliverCallback(job, job.callback, { guard: deps.guard, secrets: deps.secrets, lanes, log: (fields, msg) => deps.log()?.warn(fields, msg) }));
      }
    },
  });
  return engine;
}
