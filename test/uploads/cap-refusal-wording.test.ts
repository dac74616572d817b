import { request as httpRequest } from 'node:http';
import t, { type Test } from 'tap';
import { patternChunk, patternStream } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

// A cap refusal says what the caller can change: an upload has no
// client-opts, a step is told about its tier and max-response-bytes.
const CAP = 1000;
const gw = await startGateway({ tiers: { retained: { 'cap-bytes': CAP }, ephemeral: { 'cap-bytes': 2 * CAP } } });
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const uploadWords = /retained tier's write cap of 1000 bytes.*upload it to the ephemeral tier \(field or query parameter tier=ephemeral, up to 2000 bytes/;

function assertUploadRefusal(t: Test, error: { code: string; message: string; details: Record<string, unknown> }, what: string): void {
  t.equal(error.code, 'cap_exceeded', what);
  t.match(error.message, uploadWords, what);
  t.notMatch(error.message, /client-opts|max-response-bytes/, `${what}: names nothing an upload has`);
  t.equal(error.details['max-bytes'], CAP, what);
}

t.test('a multipart file over the cap is refused in upload words', async (t) => {
  const fd = new FormData();
  fd.append('file', new Blob([patternChunk(0, CAP + 1)]), 'big.bin');
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: fd });
  t.equal(res.status, 413);
  assertUploadRefusal(t, ((await res.json()) as any).error, 'multipart');
});

t.test('a raw upload over the cap is refused in upload words, by its bytes and by its Content-Length', async (t) => {
  const streamed = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads/big.bin`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN_ALL}` },
    body: patternStream(CAP + 1) as unknown as AsyncIterable<Uint8Array>,
    duplex: 'half',
  } as RequestInit);
  t.equal(streamed.status, 413);
  assertUploadRefusal(t, ((await streamed.json()) as any).error, 'streamed');
  const announced = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const { port } = new URL(gw.url);
    const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: '/v1/workspaces/ws-1/uploads/big.bin', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-length': String(CAP + 1) } });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.write(patternChunk(0, 10));
  });
  t.equal(announced.status, 413);
  const error = JSON.parse(announced.body).error;
  assertUploadRefusal(t, error, 'announced');
  t.equal(error.details['announced-bytes'], CAP + 1);
});

t.test('a step over a tier cap is told what it can change', async (t) => {
  const retained = await gw.step({ request: { url: `${up.url}/bytes/${CAP + 1}?chunked=1` }, persist: { type: 'blob' } });
  t.equal(retained.json.error.code, 'cap_exceeded');
  t.match(retained.json.error.message, /retained tier's write cap of 1000 bytes.*persist large downloads to the ephemeral tier/);
  t.notMatch(retained.json.error.message, /max-response-bytes/, 'the step set no max-response-bytes, and raising it would not help');
  const ephemeral = await gw.step({ request: { url: `${up.url}/bytes/${2 * CAP + 1}` }, persist: { type: 'blob', tier: 'ephemeral' } });
  t.match(ephemeral.json.error.message, /ephemeral tier's write cap of 2000 bytes \(the source announced 2001 bytes\); that is the largest/);
  const lowered = await gw.step({ request: { url: `${up.url}/bytes/101?chunked=1`, 'client-opts': { 'max-response-bytes': 100 } }, persist: { type: 'blob', tier: 'ephemeral' } });
  t.equal(lowered.json.error.details['max-bytes'], 100);
  t.match(lowered.json.error.message, /client-opts.max-response-bytes of 100 bytes.*raise client-opts.max-response-bytes, up to the ephemeral tier's cap of 2000 bytes/);
});
