import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

// Servlet containers (Tomcat, Jetty, Spring) strip a ";…" path parameter and then resolve what is
// left: "/v1/..;/x" is "/x" to them. A proxy that decodes once more turns %252e%252e into "..".
const up = await startUpstream();
const dir = await mkdtemp(join(tmpdir(), 'bg-dest-'));
const file = join(dir, 'secrets.json');
await writeFile(file, JSON.stringify({ 'ws-1': { bound: { value: 'bound-secret-value-0003', hosts: [`${up.url}/v1/`] } } }));
const gw = await startGateway({ secrets: { file } });
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const auth = { type: 'bearer', 'secret-ref': 'bound' };

t.test('a path that a servlet container or a second decode resolves outside the prefix is refused', async (t) => {
  for (const path of ['/v1/..;/echo', '/v1/.;/echo', '/v1/..;jsessionid=1/echo', '/v1/%2e%2e;/echo', '/v1/.%2E%3b/echo', '/v1/%252e%252e/echo', '/v1/a/%252fecho']) {
    const before = up.requests.length;
    const res = await gw.step({ request: { url: `${up.url}${path}`, auth } });
    t.equal(res.status, 403, path);
    t.equal(res.json.error?.code, 'secret_destination_refused', path);
    t.equal(up.requests.length, before, `${path}: nothing was sent`);
  }
});

t.test('path parameters on ordinary segments under the prefix still carry the secret', async (t) => {
  for (const path of ['/v1/echo', '/v1/items;v=2/echo', '/v1/...;/echo', '/v1/a.b;c/echo']) {
    const res = await gw.step({ request: { url: `${up.url}${path}`, auth } });
    t.equal(res.status, 200, path);
    t.equal(res.json.body.headers.authorization, 'Bearer bound-secret-value-0003', path);
  }
});
