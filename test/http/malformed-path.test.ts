import t from 'tap';
import { startGateway } from '../helpers/gateway.js';

// fastify's router refuses these before any route runs; they used to leave as
// {"error":"Bad Request","code":"FST_ERR_BAD_URL",…}, not in the catalogue's shape.
const gw = await startGateway();
t.teardown(() => gw.close());

t.test('a malformed percent-encoding in the path is invalid_request, with a token and without', async (t) => {
  for (const path of ['/v1/workspaces/%E0%A4%A/resources', '/v1/workspaces/ws-1%/resources', '/v1/workspaces/%FF/jobs/x']) {
    for (const token of [undefined, null, 'wrong-token-0000000000'] as const) {
      const res = await gw.call('GET', path, undefined, { token });
      const label = `${path} token=${token === undefined ? 'valid' : String(token)}`;
      t.equal(res.status, 400, label);
      t.equal(res.headers.get('content-type'), 'application/json; charset=utf-8', label);
      t.equal(res.json.error?.code, 'invalid_request', label);
      t.match(res.json.error?.message, /percent-encoding/, label);
      t.same(Object.keys(res.json), ['error'], `${label}: only the catalogue shape`);
    }
  }
});

t.test('a path segment longer than the router takes is invalid_request too', async (t) => {
  const res = await gw.call('GET', `/v1/workspaces/${'w'.repeat(300)}/resources`);
  t.equal(res.status, 400);
  t.equal(res.json.error?.code, 'invalid_request');
});
