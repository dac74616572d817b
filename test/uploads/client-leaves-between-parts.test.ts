import { request as httpRequest } from 'node:http';
import t from 'tap';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';

/** blobgate_transfers_in_flight, read from /metrics (open without a token on loopback). */
async function inFlight(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^blobgate_transfers_in_flight (\d+)$/m.exec(text)?.[1] ?? NaN);
}

t.test('a multipart client that leaves between parts releases its transfer slot', async (t) => {
  const gw = await startGateway({ limits: { transfers: 1, 'transfer-queue': 0 } });
  t.teardown(() => gw.close());
  const { port } = new URL(gw.url);
  const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/workspaces/ws-1/uploads', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'multipart/form-data; boundary=XX' } });
  req.on('error', () => undefined);
  req.write('--XX\r\nContent-Disposition: form-data; name="path"\r\n\r\ninbox\r\n');
  await until('the upload holds the only transfer slot', async () => (await inFlight(gw.url)) === 1);
  req.destroy();
  await until('the slot is released after the client left', async () => (await inFlight(gw.url)) === 0, 5000);
  const fd = new FormData();
  fd.append('file', new Blob([Buffer.from('hello')]), 'a.txt');
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: fd });
  t.equal(res.status, 201, 'the slot was free again');
});
