import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { EmbeddedSecrets } from '../../src/secrets/provider.js';
import { StoreRegistry } from '../../src/storage/registry.js';
import { GoogleTokenSource } from '../../src/upstream/google-token.js';
import { UpstreamGuard, type Resolver } from '../../src/upstream/guard.js';

export const TOKEN_ALL = 'test-token-ws1-ws2-000000';
export const TOKEN_WS1 = 'test-token-only-ws1-00000';

export interface Gateway {
  url: string;
  config: Config;
  stores: StoreRegistry;
  dataDir: string;
  /** JSON request with the all-workspaces token unless `token` says otherwise (null: no token). */
  call(method: string, path: string, body?: unknown, opts?: { token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; json: any; headers: Headers }>;
  /** Runs an HTTP step in ws-1 (or `ws`). */
  step(body: Record<string, unknown>, ws?: string): Promise<{ status: number; json: any }>;
  /** Every file under the data dir's tmp/ folders and every object under objects/ (what a failure must not leave). */
  residue(): Promise<{ tmp: string[]; objects: string[] }>;
  close(): Promise<void>;
}

/** Starts the real app on 127.0.0.1:0 over local stores in a temp dir. `file` is merged into a config file. */
export interface GatewayOptions {
  /** Environment seen by the secrets provider (BLOBGATE_SECRET__…). */
  env?: NodeJS.ProcessEnv;
  /** A resolver for the SSRF guard (tests map names to loopback addresses). */
  resolver?: Resolver;
  /** pino options, e.g. a stream capturing the log. */
  logger?: Record<string, unknown>;
}

export async function startGateway(file: Record<string, unknown> = {}, opts: GatewayOptions = {}): Promise<Gateway> {
  const dataDir = await mkdtemp(join(tmpdir(), 'bg-gw-'));
  const config = buildConfig(
    {
      port: 0,
      tokens: [
        { token: TOKEN_ALL, workspaces: ['ws-1', 'ws-2'] },
        { token: TOKEN_WS1, workspaces: ['ws-1'] },
      ],
      // Test upstreams live on loopback, which the SSRF guard refuses unless allowed.
      upstream: { allow: ['127.0.0.1'] },
      ...file,
    },
    { BLOBGATE_DATA_DIR: dataDir },
    dataDir,
  );
  const stores = await StoreRegistry.open(config);
  const guard = new UpstreamGuard(config.upstream.allow, opts.resolver);
  const secrets = new EmbeddedSecrets(config.secrets.file, opts.env ?? {});
  const app = buildApp({
    config,
    stores,
    guard,
    secrets,
    google: new GoogleTokenSource(guard),
    signingSecret: 'test-signing-secret-0123456789abcdef',
    logger: opts.logger ?? false,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const call: Gateway['call'] = async (method, path, body, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const token = opts.token === undefined ? TOKEN_ALL : opts.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, json, headers: res.headers };
  };
  return {
    url,
    config,
    stores,
    dataDir,
    call,
    step: (body, ws = 'ws-1') => call('POST', `/v1/workspaces/${ws}/http`, { 'flow-slug': 'flow', 'step-id': 'step', ...body }),
    residue: async () => {
      const tmp: string[] = [];
      const objects: string[] = [];
      for (const store of ['retained', 'ephemeral']) {
        tmp.push(...(await readdir(join(dataDir, store, 'tmp')).catch(() => [])).map((f) => `${store}/tmp/${f}`));
        const entries = await readdir(join(dataDir, store, 'objects'), { recursive: true, withFileTypes: true }).catch(() => []);
        objects.push(...entries.filter((e) => e.isFile()).map((e) => `${store}/objects/${relative(join(dataDir, store, 'objects'), join(e.parentPath ?? e.path, e.name))}`));
      }
      return { tmp, objects };
    },
    close: async () => {
      await app.close();
      await guard.close();
      await stores.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
