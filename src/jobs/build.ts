import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';
import type { StoreRegistry } from '../storage/registry.js';
import { JobEngine, type JobEngineOptions } from './engine.js';
import { JobStore } from './job-store.js';

/** The job engine over the records of the store config names (jobs.store, default the retained tier's). */
export function jobEngineFor(config: Config, stores: StoreRegistry, hooks: Pick<JobEngineOptions, 'onWriteError' | 'onDone'> = {}): JobEngine {
  const driver = stores.get(config.jobs.store);
  if (!driver.records) throw new BlobgateError('internal', `Store "${config.jobs.store}" keeps no records; jobs need a store that does.`);
  return new JobEngine(new JobStore(driver.records), {
    heartbeatMs: config.jobs.heartbeatSeconds * 1000,
    lostAfterMs: config.jobs.lostAfterSeconds * 1000,
    retentionMs: config.jobs.retentionSeconds * 1000,
    idempotencyRetentionMs: config.jobs.idempotencyRetentionSeconds * 1000,
    ...hooks,
  });
}
