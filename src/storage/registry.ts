import type { Reader } from '../config/reader.js';
import { BlobgateError } from '../errors.js';
import { type BufferCounts, BufferBudget, DEFAULT_BUFFER_BYTES } from './buffer-budget.js';
import type { StorageDriver } from './driver.js';
import { gcsBackend } from './gcs/gcs-backend.js';
import { type CleanupCounts, Janitor, type JanitorEvent } from './janitor.js';
import { localBackend } from './local/local-backend.js';
import { s3Backend } from './s3/s3-backend.js';

/** The buffer budget's default, for config's defaults: config reaches storage only through this registry. */
export { DEFAULT_BUFFER_BYTES };

/**
 * The backends a store can use, by the `driver` of its config section. Each
 * backend folder owns its options, the reading and checking of its section
 * (with the driver's own limits) and the building of its client and driver
 * (docs/architecture.md#configuration); adding a backend is a folder and one
 * line here.
 *
 * The S3 and GCS backends import their driver, and its SDK, only when a store
 * of that kind is opened: the SDKs cost ~23 MiB (S3) and ~33 MiB (GCS) of
 * resident memory at rest, which a gateway on the local store alone (the
 * default) or on one cloud should not carry.
 */
const BACKENDS = { local: localBackend, s3: s3Backend, gcs: gcsBackend };

export type StoreDriverName = keyof typeof BACKENDS;

/** A store as configured: the options its backend's `parse` returned. */
export type StoreConfig = { [K in StoreDriverName]: ReturnType<(typeof BACKENDS)[K]['parse']> }[StoreDriverName];

/** Where a store's section is read: its name, and what relative paths in it are relative to. */
export interface StoreSite {
  name: string;
  dataDir: string;
  cwd: string;
}

/** What a backend is given to open a store besides its options. */
export interface OpenContext {
  /** The store's janitor, which the driver owns and closes. */
  janitor: Janitor;
  /** False when another process (a running gateway) may be writing to the same local stores. */
  cleanLocalTmp: boolean;
  /** The process's budget of transfer buffers, one for every store (limits.buffer-bytes). */
  buffers: BufferBudget;
}

/**
 * A credential reference in a store's options, for `blobgate config check`:
 * where it sits under `stores.<name>` (`credentials.access-key-id`), the
 * reference itself (never its value), and what the resolved value must look
 * like (a problem message, without the value, or undefined when it fits).
 */
export interface CredentialRef {
  at: string;
  ref: string;
  check?: (value: string) => string | undefined;
}

/** A backend of the table: reads its section of `stores.<name>` (problems go to the reader) and opens a store from what it read. */
export interface StoreBackend<O extends { driver: string }> {
  parse(section: Reader, at: StoreSite): O;
  open(options: O, ctx: OpenContext): Promise<StorageDriver>;
  /** One line for people: the backend and where its data lives (`s3, bucket b at https://…`), no credential. */
  describe(options: O): string;
  /** Optional: the credential references the options hold, resolved when the store is opened. */
  credentialRefs?(options: O): CredentialRef[];
  /** Optional: true when the options ask for blobgate's bucket lifecycle rules at start-up (src/storage/lifecycle.ts). */
  wantsLifecycle?(options: O): boolean;
}

type OptionsOf<K extends StoreDriverName> = Extract<StoreConfig, { driver: K }>;

/** The table, checked: each backend's `open` takes what its `parse` returns, and that names its driver. */
const TABLE: { [K in StoreDriverName]: StoreBackend<OptionsOf<K>> } = BACKENDS;

/** The `driver` values config accepts, in the order messages list them. */
export const STORE_DRIVERS = Object.keys(TABLE) as StoreDriverName[];

/** Reads `stores.<name>` (its `driver` already read) with that backend's rules. */
export function parseStore(driver: StoreDriverName, section: Reader, at: StoreSite): StoreConfig {
  return TABLE[driver].parse(section, at);
}

function openStore<K extends StoreDriverName>(driver: K, options: OptionsOf<K>, ctx: OpenContext): Promise<StorageDriver> {
  return TABLE[driver].open(options, ctx);
}

/** The backend of a store's options, typed for them. */
function backendOf<K extends StoreDriverName>(store: OptionsOf<K>): StoreBackend<OptionsOf<K>> {
  return TABLE[store.driver as K];
}

/** One line describing a configured store, in its backend's words (no credential). */
export function describeStore(store: StoreConfig): string {
  return backendOf(store).describe(store);
}

/** The credential references a configured store holds (none for a backend without credentials). */
export function storeCredentialRefs(store: StoreConfig): CredentialRef[] {
  return backendOf(store).credentialRefs?.(store) ?? [];
}

/** Whether a configured store asks for blobgate's bucket lifecycle rules at start-up. */
export function storeWantsLifecycle(store: StoreConfig): boolean {
  return backendOf(store).wantsLifecycle?.(store) ?? false;
}

/** The parts of the config the registry reads (src/config/types.ts Config has them). */
export interface RegistryConfig {
  stores: Readonly<Record<string, StoreConfig>>;
  janitor: { graceSeconds: number; sweepIntervalSeconds: number; retryMaxSeconds: number; maxPending: number };
  /** limits.buffer-bytes; default DEFAULT_BUFFER_BYTES. */
  limits?: { bufferBytes: number };
}

/** The one place that turns store config into drivers, through the table of backends above. */
export class StoreRegistry {
  private constructor(
    private readonly drivers: ReadonlyMap<string, StorageDriver>,
    /** Shared by the stores' transfers (absent for registries of ready drivers). */
    private readonly buffers?: BufferBudget,
  ) {}

  /** `cleanLocalTmp: false` when another process (a running gateway) may be writing to the same local stores. */
  static async open(config: RegistryConfig, opts: { cleanLocalTmp?: boolean } = {}): Promise<StoreRegistry> {
    const drivers = new Map<string, StorageDriver>();
    const buffers = new BufferBudget(config.limits?.bufferBytes ?? DEFAULT_BUFFER_BYTES);
    try {
      for (const [name, store] of Object.entries(config.stores)) {
        drivers.set(name, await openStore(store.driver, store, { janitor: janitorFor(name, config), cleanLocalTmp: opts.cleanLocalTmp ?? true, buffers }));
      }
    } catch (err) {
      await Promise.allSettled([...drivers.values()].map((d) => d.close()));
      throw err;
    }
    return new StoreRegistry(drivers, buffers);
  }

  /** Wraps ready drivers (tests and tools that build drivers themselves). */
  static of(drivers: Record<string, StorageDriver>): StoreRegistry {
    return new StoreRegistry(new Map(Object.entries(drivers)));
  }

  get(name: string): StorageDriver {
    const driver = this.drivers.get(name);
    if (!driver) throw new BlobgateError('not_found', `No store named "${name}" is configured.`, { store: name });
    return driver;
  }

  has(name: string): boolean {
    return this.drivers.has(name);
  }

  entries(): Array<[string, StorageDriver]> {
    return [...this.drivers.entries()];
  }

  /** The shared buffer budget's counts (src/storage/buffer-budget.ts), for the metrics; undefined without one. */
  bufferCounts(): BufferCounts | undefined {
    return this.buffers?.counts();
  }

  /** Each store's cleanup counts (src/storage/janitor.ts), for the metrics. */
  cleanupCounts(): Array<{ store: string; counts: CleanupCounts }> {
    return this.janitors().map(([store, j]) => ({ store, counts: j.counts() }));
  }

  /** Subscribes to every store's janitor events (one per failed cleanup, recovery, sweep). Returns the unsubscribe. */
  onCleanupEvent(listener: (e: JanitorEvent) => void): () => void {
    const offs = this.janitors().map(([, j]) => j.onEvent(listener));
    return () => offs.forEach((off) => off());
  }

  /**
   * Starts every store's sweep of crash debris: now, then periodically
   * (`janitor.sweep-interval-seconds`). Only a serving gateway calls this,
   * before it starts serving (a local store's first sweep counts on no write
   * being under way); tools that open the stores for a moment do not sweep.
   */
  startJanitors(): void {
    for (const [, driver] of this.drivers) {
      const { janitor, sweepDebris } = driver;
      if (janitor && sweepDebris) janitor.start((olderThan) => sweepDebris.call(driver, olderThan));
    }
  }

  private janitors(): Array<[string, Janitor]> {
    return [...this.drivers.entries()].flatMap(([name, d]): Array<[string, Janitor]> => (d.janitor ? [[name, d.janitor]] : []));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.drivers.values()].map((d) => d.close()));
  }
}

function janitorFor(store: string, config: RegistryConfig): Janitor {
  const j = config.janitor;
  return new Janitor({
    store,
    graceMs: j.graceSeconds * 1000,
    sweepIntervalMs: j.sweepIntervalSeconds * 1000,
    retryMaxMs: j.retryMaxSeconds * 1000,
    maxPending: j.maxPending,
  });
}
