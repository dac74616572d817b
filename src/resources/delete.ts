import type { Located } from './locate.js';

/** Deletes a resource; deleting one that is not there succeeds (idempotent, as the driver contract says). */
export async function deleteResource(located: Located): Promise<void> {
  await located.driver.delete(located.loc.key);
}
