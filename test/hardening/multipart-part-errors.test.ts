import { connect } from 'node:net';
import t from 'tap';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';

/**
 * Every multipart file part has an owner for its errors from the moment busboy
 * creates it: a part whose store never started (its placement was refused) is
 * drained, and busboy destroys it with an error when the form is then cut off.
 */
const gw = await startGateway();
t.teardown(() => gw.close());

/** One request on a fresh socket; resolves with the raw answer when the gateway closes the socket. */
function exchange(payload: Buffer): Promise<string> {
  const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.end(payload);
  });
}

t.test('a refused part in a form that is cut off answers 400 and the gateway lives on', async (t) => {
  const boundary = 'bgtestboundary';
  // A path field that is refused, then a file part whose form never reaches its closing boundary.
  const body =
    `--${boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\n../escape\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n` +
    'x'.repeat(1000);
  const head =
    `POST /v1/workspaces/ws-1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN_ALL}\r\nConnection: close\r\n` +
    `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  for (let i = 0; i < 5; i++) {
    const answer = await exchange(Buffer.from(head + body, 'latin1'));
    t.match(answer, /^HTTP\/1\.1 400 /, `attempt ${i + 1}: a 400, not a crash`);
    t.match(answer, /"code":"path_invalid"/);
  }
  t.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'the gateway still answers');
  t.same(await gw.residue(), { tmp: [], objects: [] }, 'nothing stored, no temp file');
});
