import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { walkKeys } from './walk.js';

/**
 * What a crashed process leaves in a local store: temp files under tmp/, and
 * data files under objects/ that no meta file names (a crash between the
 * data file's rename and the meta commit). Removed when older than
 * `cutoffMs` and not a write of this process still in flight (`busy` holds
 * their data ids, which also name their temp files).
 *
 * A write that commits while the sweep walks the meta tree was in flight
 * when the sweep started, so its id is in the snapshot taken first; a write
 * that starts later has files younger than the sweep (a margin covers the
 * file system's coarse timestamps; `noWriteYet` drops it for the sweep at
 * start-up, which may overlap the first requests, so that sweep walks the
 * meta tree a second time before it removes a data file). objects/ is shared by every prefix of
 * one root, so the whole meta tree is read; a meta file that cannot be read
 * stops the sweep rather than orphan its data.
 */
export async function sweepLocalDebris(
  dirs: { objects: string; meta: string; tmp: string },
  busy: ReadonlySet<string>,
  cutoffMs: number,
  opts: { noWriteYet?: boolean; settle?: () => Promise<void> } = {},
): Promise<number> {
  const started = Date.now();
  const atStart = new Set(busy);
  const limit = Math.min(cutoffMs, started - (opts.noWriteYet ? 0 : TIMESTAMP_MARGIN_MS));
  const skip = (id: string): boolean => atStart.has(id) || busy.has(id);
  const referenced = await referencedData(dirs.meta);
  const unreferenced = (await dataFiles(dirs.objects)).filter(({ id }) => !referenced.has(id) && !skip(id));
  // Without the timestamp margin (the sweep at start-up), a write that started after `started`
  // could still rename its data in before the listing and commit its meta after the walk passed
  // its key (a coarse mtime hides that it is new). A commit follows its rename at once, so a data
  // file that a second walk, a moment later, still finds unnamed is debris.
  const referencedLater = opts.noWriteYet && unreferenced.length > 0 ? await referencedAfter(dirs.meta, opts.settle ?? settleBriefly) : undefined;
  let removed = 0;
  for (const { id, path } of unreferenced) {
    if (referencedLater?.has(id) || skip(id)) continue;
    if (await removeIfOlder(path, limit)) removed++;
  }
  for (const name of await readdir(dirs.tmp).catch(() => [])) {
    if (skip(name.split('.')[0] ?? '')) continue;
    if (await removeIfOlder(join(dirs.tmp, name), limit)) removed++;
  }
  return removed;
}

const TIMESTAMP_MARGIN_MS = 2_000;

/** How long the start-up sweep waits before its second walk of the meta tree. */
const SETTLE_MS = 1_000;

function settleBriefly(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, SETTLE_MS).unref());
}

async function referencedAfter(metaDir: string, settle: () => Promise<void>): Promise<Set<string>> {
  await settle();
  return referencedData(metaDir);
}

/** The data ids every meta file names. */
async function referencedData(metaDir: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const key of walkKeys(metaDir, '')) {
    let text: string;
    try {
      text = await readFile(join(metaDir, ...key.split('/')), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted meanwhile
      throw err;
    }
    const stored = JSON.parse(text) as { data?: unknown; inline?: unknown };
    if (typeof stored.inline === 'string' && stored.data === undefined) continue; // a small body kept inside its meta: no data file
    if (typeof stored.data !== 'string') throw new Error(`The local store's meta file ${key} names no data file; sweep stopped.`);
    ids.add(stored.data);
  }
  return ids;
}

async function dataFiles(objectsDir: string): Promise<Array<{ id: string; path: string }>> {
  const out: Array<{ id: string; path: string }> = [];
  for (const fan of await readdir(objectsDir).catch(() => [])) {
    for (const id of await readdir(join(objectsDir, fan)).catch(() => [])) out.push({ id, path: join(objectsDir, fan, id) });
  }
  return out;
}

async function removeIfOlder(path: string, limit: number): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  if (!st || st.mtimeMs >= limit) return false;
  await rm(path, { force: true, recursive: st.isDirectory() });
  return true;
}
