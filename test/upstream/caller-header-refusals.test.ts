import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const up = await startUpstream();
const gw = await startGateway();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const echo = (headers: Record<string, string>) => gw.step({ request: { url: `${up.url}/echo`, headers } });

t.test('range, method-override and forwarding headers are refused by name before any request', async (t) => {
  const refused = [
    'Range', 'If-Range', 'X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override',
    'Forwarded', 'Via', 'X-Forwarded-For', 'X-Forwarded-Host', 'X-Forwarded-Proto', 'X-Forwarded-Port', 'X-Real-IP', 'True-Client-IP',
  ];
  for (const name of refused) {
    const before = up.requests.length;
    const res = await echo({ [name]: name.toLowerCase().includes('range') ? 'bytes=0-9' : name.includes('Method') ? 'DELETE' : '10.0.0.1' });
    t.equal(res.status, 400, name);
    t.equal(res.json.error?.code, 'invalid_request', name);
    t.equal(res.json.error?.details?.field, `request.headers.${name}`, name);
    t.equal(up.requests.length, before, `${name}: nothing was sent`);
  }
});

t.test('hop-by-hop headers are still dropped silently; ordinary ones, Origin, Referer and Date go through', async (t) => {
  const res = await echo({ Connection: 'close', 'Keep-Alive': '5', Upgrade: 'h2c', 'Proxy-Connection': 'close', Origin: 'https://app.example', Referer: 'https://app.example/page', Date: 'Tue, 01 Dec 2026 10:00:00 GMT', 'X-Trace': 't1' });
  t.equal(res.status, 200, JSON.stringify(res.json));
  const seen = res.json.body.headers as Record<string, string>;
  t.equal(seen.connection, 'keep-alive', "blobgate's own connection header, not the caller's");
  t.equal(seen['keep-alive'], undefined);
  t.equal(seen.upgrade, undefined);
  t.equal(seen['proxy-connection'], undefined);
  t.equal(seen.origin, 'https://app.example');
  t.equal(seen.referer, 'https://app.example/page');
  t.equal(seen.date, 'Tue, 01 Dec 2026 10:00:00 GMT');
  t.equal(seen['x-trace'], 't1');
});
