import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.js';
import type { Config } from '../config/types.js';
import { EmbeddedSecrets } from '../secrets/provider.js';
import { LocalSigner } from '../signing/local-signer.js';
import type { StorageDriver } from '../storage/driver.js';
import { StoreRegistry } from '../storage/registry.js';
import { GoogleTokenSource } from '../upstream/google-token.js';
import { UpstreamGuard } from '../upstream/guard.js';
import { DEFAULT_UNIT_BYTES, type SmokeReport, type SmokeRow, type SmokeSigner, type SmokeStoreReport, runSmoke, summarize, unopenedStore } from './run.js';

/** A problem with what was asked (unknown store name, no signing secret for --gateway): a usage error, not a FAIL row. */
export class SmokeSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmokeSetupError';
  }
}

export interface InProcessSmokeOptions {
  /** The loaded configuration (loadConfig()). */
  config: Config;
  /** Stores to test; default every configured store. */
  storeNames?: string[];
  /**
   * Base URL of a running gateway with this configuration: URLs blobgate
   * signs (stores without their own signing, i.e. local) are then fetched
   * from it, signed with its secret (`signing.secret`, else the
   * `<data-dir>/signing-secret` it keeps). Without it an in-process gateway
   * is started on 127.0.0.1:0 for them.
   */
  gatewayUrl?: string;
  fetch?: typeof fetch;
  checkTimeoutMs?: number;
  onRow?: (store: string, row: SmokeRow) => void;
  /** Interrupts the run; the cleanup still runs (see SmokeOptions.signal). */
  signal?: AbortSignal;
}

/**
 * The smoke test in this process: each selected store is opened from the
 * config on its own (a store that cannot even be opened — unreadable
 * credentials, say — is one FAIL row, the others still run), blobgate-signed
 * URLs are served by a gateway app started on 127.0.0.1:0 (or a running one,
 * `gatewayUrl`), and everything is closed at the end.
 *
 * Local stores are opened without sweeping their `tmp/` (a gateway running on
 * the same directory may be writing there).
 */
export async function runSmokeInProcess(opts: InProcessSmokeOptions): Promise<SmokeReport> {
  const { config } = opts;
  const configured = Object.keys(config.stores);
  const names = opts.storeNames ?? configured;
  const unknown = names.filter((n) => !(n in config.stores));
  if (unknown.length > 0) {
    throw new SmokeSetupError(`no store named ${unknown.map((n) => `"${n}"`).join(', ')} is configured (stores: ${configured.join(', ') || 'none'})`);
  }
  if (names.length === 0) throw new SmokeSetupError('no store to test');

  const drivers: Record<string, StorageDriver> = {};
  const openErrors = new Map<string, unknown>();
  for (const name of names) {
    try {
      const one = await StoreRegistry.open({ ...config, stores: { [name]: config.stores[name]! } }, { cleanLocalTmp: false });
      drivers[name] = one.get(name);
    } catch (err) {
      openErrors.set(name, err);
    }
  }
  const stores = StoreRegistry.of(drivers);
  let gateway: { app: FastifyInstance; guard: UpstreamGuard } | undefined;
  try {
    let signer: SmokeSigner = async () => {
      throw new Error('no signer needed');
    };
    if (Object.values(drivers).some((d) => !d.signUrl)) {
      let base: string;
      let secret: string;
      if (opts.gatewayUrl !== undefined) {
        base = opts.gatewayUrl.replace(/\/+$/, '');
        secret = await runningGatewaySecret(config);
      } else {
        secret = randomBytes(32).toString('base64url');
        gateway = await startGateway(config, stores, secret);
        base = `http://127.0.0.1:${(gateway.app.server.address() as AddressInfo).port}`;
      }
      const local = new LocalSigner(secret, () => base);
      signer = async (store, key, ttl) => local.sign({ store, key, expires: Math.floor(Date.now() / 1000) + ttl, download: false });
    }
    const opened = names.filter((n) => n in drivers);
    const report = await runSmoke({
      stores,
      storeNames: opened,
      signer,
      // The part (S3) or chunk (GCS) size each store writes with, from its driver.
      unitBytes: Object.fromEntries(opened.map((n) => [n, drivers[n]!.writeUnitBytes ?? DEFAULT_UNIT_BYTES])),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      ...(opts.checkTimeoutMs ? { checkTimeoutMs: opts.checkTimeoutMs } : {}),
      ...(opts.onRow ? { onRow: opts.onRow } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const byName = new Map(report.stores.map((s) => [s.store, s]));
    // In config order; a store skipped by an interruption has no entry.
    const ordered: SmokeStoreReport[] = names.flatMap((n) => {
      if (!openErrors.has(n)) return byName.has(n) ? [byName.get(n)!] : [];
      const failed = unopenedStore(n, config.stores[n]!.driver, openErrors.get(n));
      for (const row of failed.rows) opts.onRow?.(n, row);
      return [failed];
    });
    return summarize(ordered);
  } finally {
    if (gateway) {
      await gateway.app.close().catch(() => undefined);
      await gateway.guard.close().catch(() => undefined);
    }
    await stores.close();
  }
}

/** The gateway app (as src/main.ts builds it) on 127.0.0.1:0, serving /v1/signed/… for the smoke stores. */
async function startGateway(config: Config, stores: StoreRegistry, signingSecret: string): Promise<{ app: FastifyInstance; guard: UpstreamGuard }> {
  const guard = new UpstreamGuard(config.upstream.allow);
  const app = buildApp({
    config,
    stores,
    guard,
    secrets: new EmbeddedSecrets(config.secrets.file),
    google: new GoogleTokenSource(guard),
    signingSecret,
    logger: false,
  });
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (err) {
    await app.close().catch(() => undefined);
    await guard.close().catch(() => undefined);
    throw err;
  }
  return { app, guard };
}

/** The secret a running gateway signs with: config, else the file src/main.ts keeps in the data dir. Never created here. */
async function runningGatewaySecret(config: Config): Promise<string> {
  if (config.signing.secret) return config.signing.secret;
  const path = join(config.dataDir, 'signing-secret');
  try {
    const secret = (await readFile(path, 'utf8')).trim();
    if (secret.length >= 32) return secret;
  } catch {
    // reported below
  }
  throw new SmokeSetupError(`--gateway needs the running gateway's signing secret: set signing.secret (BLOBGATE_SIGNING_SECRET), or run where ${path} is readable`);
}
