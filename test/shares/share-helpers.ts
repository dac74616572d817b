import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { buildApp } from '../../src/app.js';
import { EmbeddedSecrets } from '../../src/secrets/provider.js';
import { StoreRegistry } from '../../src/storage/registry.js';
import { GoogleTokenSource } from '../../src/upstream/google-token.js';
import { UpstreamGuard } from '../../src/upstream/guard.js';
import type { Gateway } from '../helpers/gateway.js';

/** Stores `body` as a retained raw upload of `ws` and answers its res:// URI (Gateway.call sends JSON only). */
export async function putBytes(gw: Gateway, filename: string, contentType: string, body: string | Buffer, ws = 'ws-1', token = 'test-token-ws1-ws2-000000'): Promise<string> {
  const res = await fetch(`${gw.url}/v1/workspaces/${ws}/uploads/${encodeURIComponent(filename)}?content-type=${encodeURIComponent(contentType)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  });
  const json = (await res.json()) as { uri?: string };
  if (res.status !== 201 || typeof json.uri !== 'string') throw new Error(`upload of ${filename} answered ${res.status}: ${JSON.stringify(json)}`);
  return json.uri;
}

/** Writes an ephemeral blob straight through the ephemeral store's driver, expiring at `expiresAt`. */
export async function writeEphemeral(gw: Gateway, path: string, body: string, expiresAt: Date, ws = 'ws-1'): Promise<string> {
  const store = gw.config.tiers.ephemeral.store;
  const key = `workspaces/${ws}/${path}`;
  await gw.stores.get(store).write({
    key,
    body: Readable.from([Buffer.from(body, 'utf8')]),
    maxBytes: 1 << 20,
    meta: { contentType: 'text/plain', tier: 'ephemeral', createdAt: new Date().toISOString(), expiresAt: expiresAt.toISOString() },
    signal: new AbortController().signal,
  });
  return `res://v1/ws/${ws}/file/blob/${store}/${path}`;
}

export function share(gw: Gateway, body: Record<string, unknown>, opts: { ws?: string; token?: string } = {}) {
  return gw.call('POST', '/api/resources/shares', body, { ...(opts.token !== undefined ? { token: opts.token } : {}), headers: { 'x-breyta-workspace': opts.ws ?? 'ws-1' } });
}

export function revoke(gw: Gateway, token: string, opts: { ws?: string; token?: string } = {}) {
  return gw.call('DELETE', `/api/resources/shares/${token}`, undefined, { ...(opts.token !== undefined ? { token: opts.token } : {}), headers: { 'x-breyta-workspace': opts.ws ?? 'ws-1' } });
}

export async function getPublic(url: string): Promise<{ status: number; headers: Headers; text: string; bytes: Buffer }> {
  const res = await fetch(url);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, text: bytes.toString('utf8'), bytes };
}

/**
 * A second gateway process's worth of app over the same config and data
 * directory as `gw` (its own store drivers and listener): another replica,
 * for checking that what one replica did holds on the other.
 */
export async function startReplica(gw: Gateway): Promise<{ url: string; close(): Promise<void> }> {
  const stores = await StoreRegistry.open(gw.config, { cleanLocalTmp: false });
  const guard = new UpstreamGuard(gw.config.upstream.allow);
  const app = buildApp({ config: gw.config, stores, guard, secrets: new EmbeddedSecrets(undefined, {}), google: new GoogleTokenSource(guard), signingSecret: 'test-signing-secret-0123456789abcdef', logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await app.close();
      await guard.close();
      await stores.close();
    },
  };
}
