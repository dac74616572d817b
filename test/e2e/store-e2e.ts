import type { Test } from 'tap';
import { patternChunk, patternSha256, sha256, sha256OfStream } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL, type Gateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';
import { refBodyScenarios } from './ref-bodies-scenarios.js';

/**
 * The HTTP-step scenarios every cloud store runs end to end through the real
 * gateway: persist at sizes around the store's part/chunk size, the retained
 * cap exact/+1, read back byte-identical, nothing left after a failure, and a
 * signed URL that works untampered and is refused tampered.
 */
export interface StoreUnderTest {
  /** The `stores` section of the gateway config; both tiers map to `bg`. */
  store: Record<string, unknown>;
  /** Part or chunk size of the store. */
  unit: number;
  /** In-flight uploads/sessions and staging debris (must be empty after every step). */
  leftovers(): Promise<string[]>;
  /** Object names physically in the bucket. */
  objectNames(): Promise<string[]>;
  backend: string;
  bucket: string;
}

export function storeE2E(t: Test, name: string, setup: () => Promise<StoreUnderTest & { stop(): Promise<void> }>): void {
  const CAP = 52_428_800;
  t.test(`${name}: HTTP steps end to end through the gateway`, async (t) => {
    const s = await setup();
    const gw: Gateway = await startGateway({ stores: { bg: s.store }, tiers: { retained: { store: 'bg' }, ephemeral: { store: 'bg' } } });
    const up = await startUpstream();
    t.teardown(async () => {
      await gw.close();
      await up.stop();
      await s.stop();
    });

    const readBack = async (uri: string) => {
      const res = await fetch(`${gw.url}/v1/resources/content?uri=${encodeURIComponent(uri)}`, { headers: { authorization: `Bearer ${TOKEN_ALL}` } });
      return { status: res.status, ...(await sha256OfStream(res.body as unknown as AsyncIterable<Uint8Array>)) };
    };

    const sizes = [0, 1, s.unit - 1, s.unit, s.unit + 1, 3 * s.unit + 7];
    for (const size of sizes) {
      t.test(`persist ${size} bytes round trips byte-identical`, async (t) => {
        const res = await gw.step({ request: { url: `${up.url}/bytes/${size}/f.bin?chunked=1` }, persist: { type: 'blob', tier: 'ephemeral' } });
        t.equal(res.status, 200, JSON.stringify(res.json).slice(0, 300));
        t.match(res.json['blob-ref'], { backend: s.backend, bucket: s.bucket, store: 'bg', size, sha256: patternSha256(size) });
        t.same(await readBack(res.json.uri), { status: 200, sha256: patternSha256(size), size });
        const desc = await gw.call('GET', `/v1/resources?uri=${encodeURIComponent(res.json.uri)}`);
        t.same(desc.json['blob-ref'], res.json['blob-ref'], 'the descriptor read back from the store matches');
        t.same(await s.leftovers(), []);
      });
    }

    t.test('retained cap: exactly the cap is stored, one byte more leaves nothing', async (t) => {
      const ok = await gw.step({ request: { url: `${up.url}/bytes/${CAP}?chunked=1` }, persist: { type: 'blob' } });
      t.equal(ok.status, 200);
      t.equal(ok.json['blob-ref'].sha256, patternSha256(CAP));
      t.same(await readBack(ok.json.uri), { status: 200, sha256: patternSha256(CAP), size: CAP });
      t.equal((await gw.call('DELETE', `/v1/resources?uri=${encodeURIComponent(ok.json.uri)}`)).status, 204);
      const before = await s.objectNames();
      const over = await gw.step({ request: { url: `${up.url}/bytes/${CAP + 1}?chunked=1` }, persist: { type: 'blob' } });
      t.equal(over.status, 413);
      t.equal(over.json.error.code, 'cap_exceeded');
      t.same(await s.leftovers(), [], 'no multipart upload / session left');
      t.same(await s.objectNames(), before, 'no object appeared');
      const announced = await gw.step({ request: { url: `${up.url}/bytes/${CAP + 1}` }, persist: { type: 'blob' } });
      t.equal(announced.json.error.details['announced-bytes'], CAP + 1);
    });

    t.test('an upstream that drops mid-body leaves nothing', async (t) => {
      const before = await s.objectNames();
      const res = await gw.step({ request: { url: `${up.url}/bytes/${3 * s.unit}?drop-after=${2 * s.unit + 100}` }, persist: { type: 'blob', tier: 'ephemeral' } });
      t.equal(res.status, 502);
      t.equal(res.json.error.code, 'upstream_unreachable');
      t.same(await s.leftovers(), []);
      t.same(await s.objectNames(), before);
    });

    t.test('list, range, delete and signed URLs work as on the local store', async (t) => {
      const res = await gw.step({ request: { url: `${up.url}/bytes/1000/x.bin` }, slots: { a: { root: 'r/acme' } }, persist: { type: 'blob', slot: 'a' } });
      const uri: string = res.json.uri;
      const list = await gw.call('GET', '/v1/workspaces/ws-1/resources?storage-root=r/acme');
      t.same(list.json.items.map((i: { uri: string }) => i.uri), [uri]);
      t.equal(list.json.items[0].storage.backend, s.backend);
      const ranged = await fetch(`${gw.url}/v1/resources/content?uri=${encodeURIComponent(uri)}`, { headers: { authorization: `Bearer ${TOKEN_ALL}`, range: 'bytes=-10' } });
      t.equal(ranged.status, 206);
      t.equal(ranged.headers.get('content-range'), 'bytes 990-999/1000');
      t.equal((await ranged.arrayBuffer()).byteLength, 10);
      const signed = await gw.call('POST', '/v1/resources/url', { uri, download: true });
      t.equal(signed.status, 200);
      const direct = await fetch(signed.json.url);
      t.equal(direct.status, 200, 'the store serves the signed URL');
      t.equal((await sha256OfStream(direct.body as unknown as AsyncIterable<Uint8Array>)).sha256, patternSha256(1000));
      t.match(direct.headers.get('content-disposition') ?? '', /^attachment/);
      const tampered = new URL(signed.json.url);
      tampered.pathname = tampered.pathname.replace('x.bin', 'y.bin');
      t.equal((await fetch(tampered)).status, 403, 'a re-pathed signed URL is refused');
      t.equal((await gw.call('DELETE', `/v1/resources?uri=${encodeURIComponent(uri)}`)).status, 204);
      t.equal((await gw.call('DELETE', `/v1/resources?uri=${encodeURIComponent(uri)}`)).status, 204);
      t.equal((await gw.call('GET', `/v1/resources?uri=${encodeURIComponent(uri)}`)).status, 404);
    });

    refBodyScenarios(t, gw, up);

    t.test('uploads: raw PUT round trips and is found by its text; a multipart request over the cap leaves nothing', async (t) => {
      const text = `hello from ${s.backend} `.repeat(50_000);
      const put = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads/notes.txt`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'text/plain' }, body: text });
      t.equal(put.status, 201);
      const ref = (await put.json()) as { uri: string; 'blob-ref': { sha256: string; backend: string } };
      t.equal(ref['blob-ref'].backend, s.backend);
      t.equal(ref['blob-ref'].sha256, sha256(text));
      t.equal((await readBack(ref.uri)).sha256, sha256(text));
      const found = await gw.call('GET', `/v1/workspaces/ws-1/resources?q=${encodeURIComponent(`hello from ${s.backend}`)}`);
      t.same(found.json.items.map((i: { uri: string }) => i.uri), [ref.uri], 'found by its raw text');
      const before = await s.objectNames();
      const fd = new FormData();
      fd.append('file', new Blob([patternChunk(0, 1000)]), 'one.bin');
      fd.append('file', new Blob([patternChunk(0, 2 * s.unit + 5)]), 'two.bin');
      fd.append('file', new Blob([patternChunk(0, CAP + 1)]), 'three.bin');
      const res = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: fd });
      t.equal(res.status, 413);
      t.same(await s.objectNames(), before, 'the two stored files were removed');
      t.same(await s.leftovers(), []);
    });
  });
}
