// Prints what the events of one async persist look like: `npm run` is not needed,
// `node --import tsx scripts/job-events-sample.ts <bytes>` starts a gateway on local stores in a temp
// dir and an upstream on 127.0.0.1, submits one async step, and prints each event's time, bytes and rate.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app.js';
import { buildConfig } from '../src/config/load.js';
import { EmbeddedSecrets } from '../src/secrets/provider.js';
import { StoreRegistry } from '../src/storage/registry.js';
import { GoogleTokenSource } from '../src/upstream/google-token.js';
import { UpstreamGuard } from '../src/upstream/guard.js';

const size = Number(process.argv[2] ?? 1024 ** 3);
const chunk = Buffer.alloc(1024 * 1024, 7);
const upstream = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
  let sent = 0;
  const pump = (): void => {
    while (sent < size) {
      const n = Math.min(chunk.length, size - sent);
      sent += n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const dir = await mkdtemp(join(tmpdir(), 'bg-events-'));
const token = 'sample-token-000000000000';
const config = buildConfig({ port: 0, tokens: [{ token, workspaces: ['ws-1'] }], upstream: { allow: ['127.0.0.1'] } }, { BLOBGATE_DATA_DIR: dir }, dir);
const stores = await StoreRegistry.open(config);
const guard = new UpstreamGuard(config.upstream.allow);
const app = buildApp({ config, stores, guard, secrets: new EmbeddedSecrets(undefined, {}), google: new GoogleTokenSource(guard), signingSecret: 'x'.repeat(32), logger: false });
await app.listen({ host: '127.0.0.1', port: 0 });
const gw = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const up = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/big.bin`;
const t0 = Date.now();
const accepted = await fetch(`${gw}/v1/workspaces/ws-1/http`, {
  method: 'POST',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', prefer: 'respond-async' },
  body: JSON.stringify({ 'flow-slug': 'f', 'step-id': 's', request: { url: up }, persist: { type: 'blob', tier: 'ephemeral' } }),
});
const job = (await accepted.json()) as { id: string };
console.log(`${accepted.status} ${accepted.headers.get('location')} after ${Date.now() - t0} ms`);
const events = await fetch(`${gw}/v1/workspaces/ws-1/jobs/${job.id}/events`, { headers: { authorization: `Bearer ${token}` } });
let buffer = '';
let count = 0;
for await (const part of events.body as unknown as AsyncIterable<Uint8Array>) {
  buffer += Buffer.from(part).toString('utf8');
  let cut: number;
  while ((cut = buffer.indexOf('\n\n')) >= 0) {
    const block = buffer.slice(0, cut);
    buffer = buffer.slice(cut + 2);
    const name = /event: (\w+)/.exec(block)?.[1];
    const data = /data: (.*)/.exec(block)?.[1];
    if (!name || !data) continue;
    count++;
    const e = JSON.parse(data) as { state: string; bytes: number; 'bytes-per-second': number; 'total-bytes'?: number };
    console.log(`${((Date.now() - t0) / 1000).toFixed(2)} s  ${name.padEnd(8)} ${e.state.padEnd(9)} ${(e.bytes / 1024 ** 2).toFixed(0).padStart(5)} / ${((e['total-bytes'] ?? 0) / 1024 ** 2).toFixed(0)} MiB  ${(e['bytes-per-second'] / 1024 ** 2).toFixed(0)} MiB/s`);
  }
}
console.log(`${count} events`);
await app.close();
await stores.close();
await guard.close();
upstream.close();
await rm(dir, { recursive: true, force: true });
