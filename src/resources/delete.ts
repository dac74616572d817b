import { BlobgateError } from '../errors.js';
import { deleteSidecarOf } from '../persist/search-sidecar.js';
import type { StoredObject } from '../storage/driver.js';
import type { Located } from './locate.js';

/**
 * Deletes a resource; deleting one that is not there succeeds (idempotent, as
 * the driver contract says). The blob's meta is read first to learn which
 * search-index sidecar it names (src/persist/search-sidecar.ts), removed once
 * the blob is gone; a sidecar of a write still running at the key is left to it.
 */
export async function deleteResource(located: Located): Promise<void> {
  const { driver, loc } = located;
  let obj: StoredObject | undefined;
  try {
    obj = await driver.head(loc.key);
  } catch (err) {
    if (!(err instanceof BlobgateError && err.code === 'not_found')) throw err;
  }
  await driver.delete(loc.key);
  if (obj) await deleteSidecarOf(driver, obj);
}
