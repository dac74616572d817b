import t from 'tap';
import { isActiveContent } from '../../src/storage/disposition.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';

const gw = await startGateway();
t.teardown(() => gw.close());

const HTML = '<!doctype html><script>fetch("/v1/workspaces/ws-1/resources")</script>';
const stored: Record<string, string> = {
  'text/html; charset=utf-8': HTML,
  'image/svg+xml': '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
  'application/xml': '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
  'application/xhtml+xml': '<html xmlns="http://www.w3.org/1999/xhtml"/>',
  'text/plain': 'just text',
  'image/png': '\x89PNG',
};

async function upload(type: string, body: string): Promise<string> {
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads/f`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': type }, body });
  t.equal(res.status, 201, `upload ${type}`);
  return ((await res.json()) as { uri: string }).uri;
}

async function signedUrl(uri: string): Promise<string> {
  const res = await gw.call('POST', '/v1/resources/url', { uri });
  t.equal(res.status, 200);
  return res.json.url as string;
}

t.test('which types are active', async (t) => {
  for (const type of ['text/html', 'TEXT/HTML; charset=utf-8', 'image/svg+xml', 'text/xml', 'application/xml', 'application/rss+xml', 'text/xsl', 'multipart/x-mixed-replace; boundary=x', 'not a type']) {
    t.ok(isActiveContent(type), `${type} is active`);
  }
  for (const type of ['text/plain', 'text/csv', 'application/json', 'application/pdf', 'image/png', 'application/octet-stream', 'video/mp4']) {
    t.notOk(isActiveContent(type), `${type} is passive`);
  }
});

t.test('stored HTML, SVG and XML are sandboxed on the content route and on blobgate-signed URLs', async (t) => {
  for (const [type, body] of Object.entries(stored)) {
    const uri = await upload(type, body);
    const active = isActiveContent(type);
    const content = await fetch(`${gw.url}/v1/resources/content?uri=${encodeURIComponent(uri)}`, { headers: { authorization: `Bearer ${TOKEN_ALL}` } });
    const signed = await fetch(await signedUrl(uri));
    const ranged = await fetch(await signedUrl(uri), { headers: { range: 'bytes=0-3' } });
    for (const [route, res] of [['content', content], ['signed', signed], ['signed, ranged', ranged]] as const) {
      t.equal(res.status, route === 'signed, ranged' ? 206 : 200, `${type} ${route}`);
      t.equal(res.headers.get('content-security-policy'), active ? 'sandbox' : null, `${type} via ${route}: ${active ? 'sandboxed' : 'no CSP'}`);
      t.equal(res.headers.get('x-content-type-options'), 'nosniff');
      t.equal(res.headers.get('content-type'), type, 'the stored type is kept');
    }
    t.equal(await content.text(), body, 'the bytes are unchanged');
    await signed.arrayBuffer();
    await ranged.arrayBuffer();
  }
});

t.test('errors from those routes stay plain JSON', async (t) => {
  const res = await fetch(`${gw.url}/v1/resources/content?uri=${encodeURIComponent('res://v1/ws/ws-1/file/blob/retained/nope.html')}`, { headers: { authorization: `Bearer ${TOKEN_ALL}` } });
  t.equal(res.status, 404);
  t.equal(res.headers.get('content-security-policy'), null);
  t.match(await res.json(), { error: { code: 'not_found' } });
});
