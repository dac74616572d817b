import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { localLeftovers } from '../contract/local-leftovers.js';
import { crashScenario } from './crash-scenario.js';

const UNIT = 1024 * 1024;
const stores = (dataDir: string) => ['retained', 'ephemeral'].map((s) => join(dataDir, s));

crashScenario(t, 'local', async () => ({
  config: {},
  unit: UNIT,
  writing: async (dataDir) => {
    for (const root of stores(dataDir)) {
      for (const f of await readdir(join(root, 'tmp')).catch(() => [])) if ((await stat(join(root, 'tmp', f))).size >= UNIT) return true;
    }
    return false;
  },
  leftovers: async (dataDir) => (await Promise.all(stores(dataDir).map(localLeftovers))).flat(),
  // A kill between the data file's rename into objects/ and the meta commit (too short a window to hit with a
  // signal) leaves exactly this: the data file under objects/, named by no meta, and the meta still in tmp/.
  alsoLeft: async (dataDir) => {
    const root = join(dataDir, 'retained');
    const id = randomUUID();
    await mkdir(join(root, 'objects', id.slice(0, 2)), { recursive: true });
    await writeFile(join(root, 'objects', id.slice(0, 2), id), randomBytes(UNIT));
    await writeFile(join(root, 'tmp', `${id}.meta`), JSON.stringify({ data: id, size: UNIT }));
  },
}));
