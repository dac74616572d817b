// A repeat of a keyed upload is read and discarded, but under the same bounds as a first upload: a body
// larger than any upload stores is refused at once (cap_exceeded), one that stops is timed out.
import { request as httpRequest } from 'node:http';
import t from 'tap';
import { patternChunk } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL, type Gateway } from '../helpers/gateway.js';

const CAP = 200_000;
let gw: Gateway;
t.before(async () => {
  gw = await startGateway({
    tiers: { retained: { 'cap-bytes': CAP }, ephemeral: { 'cap-bytes': CAP } },
    server: { 'upload-idle-timeout-seconds': 0.5 },
    jobs: { 'heartbeat-seconds': 0.1, 'lost-after-seconds': 3 },
  });
});
t.teardown(() => gw.close());

/** Sends `chunks` of a PUT upload with an Idempotency-Key, then holds the body open (no end) when `hold`. */
function sendRepeat(key: string, chunks: number, hold: boolean): Promise<{ status: number; body: any; sent: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${gw.url}/v1/workspaces/ws-1/uploads/r.bin?path=repeat`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'application/octet-stream', 'idempotency-key': key },
    });
    let sent = 0;
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString() || '{}'), sent });
      });
    });
    req.on('error', (err) => (sent > 0 ? undefined : reject(err)));
    const write = (i: number): void => {
      if (i === chunks) {
        if (!hold) req.end();
        return;
      }
      if (req.destroyed) return;
      sent += 50_000;
      if (req.write(patternChunk(i * 50_000, 50_000))) setImmediate(() => write(i + 1));
      else req.once('drain', () => write(i + 1));
    };
    write(0);
  });
}

t.test('a repeat that carries more than any upload stores is refused before its end', async (t) => {
  // Chunked, like the repeat: the request's fingerprint holds its Content-Length, which would bound the body.
  const first = await sendRepeat('big-1', 2, false);
  t.equal(first.status, 201);
  // 4,000 chunks of 50 KB would be 200 MB; the answer must come long before, and the body is never ended.
  const repeat = await sendRepeat('big-1', 4000, true);
  t.equal(repeat.status, 413);
  t.equal(repeat.body.error.code, 'cap_exceeded');
  t.ok(repeat.sent < 4000 * 50_000, `answered after ${repeat.sent} bytes were sent`);
});

t.test('a repeat whose body stops is timed out like an upload', async (t) => {
  // Chunked, like the repeat: the request's fingerprint holds its Content-Length, which would bound the body.
  const first = await sendRepeat('stall-1', 2, false);
  t.equal(first.status, 201);
  const repeat = await sendRepeat('stall-1', 1, true);
  t.equal(repeat.status, 408);
  t.equal(repeat.body.error.code, 'client_timeout');
});
