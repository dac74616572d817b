import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Yields the keys of regular files under `base` that start with `prefix` and
 * sort after `after`, in ascending key order (the order of S3 and GCS
 * listings). Keys are '/'-joined relative paths. Directories sort as
 * `name + '/'`, which is what puts `a-c` before `a/b` just as a key listing does.
 */
export async function* walkKeys(base: string, prefix: string, after?: string): AsyncGenerator<string> {
  yield* walk(base, '', prefix, after);
}

async function* walk(dir: string, keyPrefix: string, prefix: string, after: string | undefined): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const sorted = entries
    .filter((e) => e.isDirectory() || e.isFile())
    .map((e) => ({ name: e.name, isDir: e.isDirectory(), sortKey: keyPrefix + e.name + (e.isDirectory() ? '/' : '') }))
    .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
  for (const entry of sorted) {
    const key = entry.sortKey;
    // Prune: skip what cannot match the prefix, and subtrees wholly before the cursor.
    if (!(key.startsWith(prefix) || prefix.startsWith(key))) continue;
    if (entry.isDir) {
      if (after !== undefined && !after.startsWith(key) && key < after) continue;
      yield* walk(join(dir, entry.name), key, prefix, after);
    } else {
      if (!key.startsWith(prefix)) continue;
      if (after !== undefined && key <= after) continue;
      yield key;
    }
  }
}
