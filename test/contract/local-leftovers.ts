import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/**
 * Temp files, and data files under objects/ that no meta file names: a
 * failed write, an overwrite (the previous version's data) and a delete must
 * leave neither.
 */
export async function localLeftovers(root: string): Promise<string[]> {
  const referenced = new Set<string>();
  const metaDir = join(root, 'meta');
  for (const e of await readdir(metaDir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!e.isFile()) continue;
    const data = (JSON.parse(await readFile(join(e.parentPath, e.name), 'utf8')) as { data: string }).data;
    referenced.add(data);
  }
  const objectsDir = join(root, 'objects');
  const unreferenced = (await readdir(objectsDir, { recursive: true, withFileTypes: true }).catch(() => []))
    .filter((e) => e.isFile() && !referenced.has(e.name))
    .map((e) => `unreferenced ${relative(root, join(e.parentPath, e.name))}`);
  return [...(await readdir(join(root, 'tmp')).catch(() => [])).map((f) => `tmp/${f}`), ...unreferenced];
}
