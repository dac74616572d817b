import type { Config } from '../config/types.js';
import { type StoreRegistry, storeWantsLifecycle } from './registry.js';

/**
 * Installs bucket lifecycle rules on the stores that opted in
 * (`install-lifecycle: true`). Everything under a store's prefix expires only
 * when the store backs the ephemeral tier alone — never a store that also holds
 * retained blobs. A failure stops start-up: the operator asked for the rules.
 */
export async function installLifecycles(config: Config, stores: StoreRegistry, log: (msg: string) => void): Promise<void> {
  for (const [name, store] of Object.entries(config.stores)) {
    if (!storeWantsLifecycle(store)) continue;
    const driver = stores.get(name);
    if (!driver.installLifecycle) continue;
    const ephemeralOnly = config.tiers.ephemeral.store === name && config.tiers.retained.store !== name;
    const ttl = config.tiers.ephemeral.ttlSeconds ?? 86_400;
    const { rules } = await driver.installLifecycle({
      ...(ephemeralOnly ? { expireAfterDays: Math.max(1, Math.ceil(ttl / 86_400)) } : {}),
      recordsExpireAfterDays: recordsBackstopDays(config),
    });
    for (const rule of rules) log(`store ${name}: lifecycle rule ${rule}`);
  }
}

/** The longest a share record lives (docs/shares.md): the most a share's ttlSeconds may ask for. */
const SHARE_MAX_SECONDS = 90 * 86_400;

/**
 * The records rule is a backstop behind the records' own expiry (a record
 * past its expires-at reads as absent and is swept): it must never remove a
 * record that is still live, so it waits out the longest a record can live
 * — a job's retention, an idempotency key's, a share's — plus a day.
 */
export function recordsBackstopDays(config: Config): number {
  const longest = Math.max(config.jobs.retentionSeconds, config.jobs.idempotencyRetentionSeconds, SHARE_MAX_SECONDS);
  return Math.ceil(longest / 86_400) + 1;
}
