// X-Request-Id: a caller's id (one value, at most 128 visible ASCII
// characters) is kept, anything else is replaced by a new UUID; the id comes
// back on every answer, errors included, and is the reqId of the request's
// one log line.
import { request as httpRequest } from 'node:http';
import t from 'tap';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';
import { until } from '../helpers/until.js';

const logs: string[] = [];
const up = await startUpstream();
const gw = await startGateway({}, { logger: { level: 'info', stream: { write: (l: string) => logs.push(l) } } });
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const requestLines = (id: string) => logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request' && l.reqId === id);

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; id: string }> {
  const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${TOKEN_ALL}`, ...headers } });
  await res.arrayBuffer();
  return { status: res.status, id: res.headers.get('x-request-id') ?? '' };
}

t.test("the caller's id is kept, answered and logged once", async (t) => {
  const mine = 'runner-42/step:7@a.b_c~d';
  const r = await fetch(`${gw.url}/v1/workspaces/ws-1/http`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'application/json', 'x-request-id': mine },
    body: JSON.stringify({ 'flow-slug': 'f', 'step-id': 's', request: { url: `${up.url}/json` } }),
  });
  await r.arrayBuffer();
  t.equal(r.headers.get('x-request-id'), mine);
  t.equal(requestLines(mine).length, 1, 'one request line with that reqId');
  t.match(requestLines(mine)[0], { route: '/v1/workspaces/:ws/http', status: 200 });
});

t.test('without one, or with one not fit to keep, a new UUID', async (t) => {
  const cases: Array<[string, Record<string, string>]> = [
    ['none', {}],
    ['129 characters', { 'x-request-id': 'a'.repeat(129) }],
    ['a space', { 'x-request-id': 'two words' }],
    ['a non-ASCII character', { 'x-request-id': 'caf\u00e9' }],
  ];
  const seen = new Set<string>();
  for (const [what, headers] of cases) {
    const { status, id } = await get('/healthz', headers);
    t.equal(status, 200);
    t.match(id, UUID, `${what}: a generated id`);
    t.notOk(seen.has(id), `${what}: a fresh one`);
    seen.add(id);
    t.equal(requestLines(id).length, 1, `${what}: logged under it`);
  }
  t.equal((await get('/healthz', { 'x-request-id': 'b'.repeat(128) })).id, 'b'.repeat(128), '128 characters are kept');
});

t.test('two values of the header are not one id', async (t) => {
  const { port } = new URL(gw.url);
  const id = await new Promise<string>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz', headers: ['host', `127.0.0.1:${port}`, 'x-request-id', 'one', 'x-request-id', 'two'] as unknown as Record<string, string> });
    req.on('response', (res) => {
      res.resume();
      resolve(String(res.headers['x-request-id']));
    });
    req.on('error', reject);
    req.end();
  });
  t.match(id, UUID);
});

t.test('error answers carry the id too, each with one log line', async (t) => {
  const cases: Array<[string, string, Record<string, string>, number]> = [
    ['no token', '/v1/workspaces/ws-1/resources', { authorization: '' }, 401],
    ['no route', '/v1/nowhere', {}, 404],
    ['a malformed path (a routing error)', '/v1/workspaces/%E0%A4%A/resources', {}, 400],
    ['a query the schema refuses', '/v1/resources', {}, 400],
  ];
  for (const [what, path, headers, status] of cases) {
    const mine = `err-${cases.findIndex((c) => c[0] === what)}`;
    const res = await get(path, { ...headers, 'x-request-id': mine });
    t.equal(res.status, status, what);
    t.equal(res.id, mine, `${what}: answered with the id`);
    await until(`${what}: its line`, () => requestLines(mine).length > 0);
    t.equal(requestLines(mine).length, 1, `${what}: one line`);
    t.match(requestLines(mine)[0], { status }, what);
  }
});

t.test('a client that leaves before its answer: one line, under its id', async (t) => {
  const { port } = new URL(gw.url);
  const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/workspaces/ws-1/http', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'application/json', 'x-request-id': 'leaves-early' } });
  req.on('error', () => undefined);
  req.end(JSON.stringify({ 'flow-slug': 'f', 'step-id': 'gone', request: { url: `${up.url}/hang`, timeout: 30 } }));
  await until('the upstream to be asked', () => up.requests.some((r) => r.url === '/hang'));
  req.destroy();
  await until('its line', () => requestLines('leaves-early').length > 0);
  t.match(requestLines('leaves-early'), [{ outcome: 'aborted', step: 'f/gone' }]);
});
