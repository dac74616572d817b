import t from 'tap';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';

t.test('repeated, malformed or header-injecting upload parameters are invalid_request; a slash in the filename is path_invalid', async (t) => {
  const gw = await startGateway();
  t.teardown(() => gw.close());
  const put = (path: string) =>
    fetch(`${gw.url}/v1/workspaces/ws-1/uploads/${path}`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: 'x' }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
  for (const q of ['a.txt?path=a&path=b', 'a.txt?content-type=text/plain&content-type=text/csv', 'a.txt?content-type=text%2Fhtml%0D%0ASet-Cookie%3A%20a%3Db', 'a.txt?content-type=nonsense']) {
    const res = await put(q);
    t.equal(res.status, 400, q);
    t.equal(res.json.error.code, 'invalid_request', q);
  }
  const slash = await put('a%2Fb.txt');
  t.equal(slash.json.error.code, 'path_invalid');
});

t.test('a multipart upload keeps a UTF-8 filename', async (t) => {
  const gw = await startGateway();
  t.teardown(() => gw.close());
  const fd = new FormData();
  fd.append('file', new Blob([Buffer.from('x')]), 'résumé-日本.txt');
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: fd });
  const json = (await res.json()) as any;
  t.match(json.items[0]['blob-ref'].path, /\/résumé-日本\.txt$/);
});
