import { resolve } from 'node:path';
import { opt, type Reader } from '../../config/reader.js';
import type { StorageDriver } from '../driver.js';
import type { Janitor } from '../janitor.js';
import { LocalDriver } from './local-driver.js';

/** A local store as configured (`stores.<name>` with `"driver": "local"`). */
export interface LocalStoreConfig {
  driver: 'local';
  /** Absolute; default `<data-dir>/<store name>`. */
  root: string;
  prefix?: string;
}

/**
 * The local backend for the registry's table (src/storage/registry.ts):
 * reads its config section and opens the driver.
 */
export const localBackend = {
  parse(s: Reader, at: { name: string; dataDir: string; cwd: string }): LocalStoreConfig {
    s.only(['driver', 'root', 'prefix']);
    return { driver: 'local', root: resolve(at.cwd, s.string('root') ?? resolve(at.dataDir, at.name)), ...opt('prefix', s.string('prefix')) };
  },

  describe: (store: LocalStoreConfig): string => `local, ${store.root}`,

  /** `cleanLocalTmp: false` when another process (a running gateway) may be writing to the same directory. */
  open(store: LocalStoreConfig, ctx: { janitor: Janitor; cleanLocalTmp: boolean }): Promise<StorageDriver> {
    return LocalDriver.open({ root: store.root, cleanTmp: ctx.cleanLocalTmp, janitor: ctx.janitor, ...(store.prefix ? { prefix: store.prefix } : {}) });
  },
};
