// One log line per request, always: a client that goes away mid-transfer
// still gets its line, with the outcome `aborted`.
import { request as httpRequest } from 'node:http';
import t from 'tap';
import { TOKEN_ALL, startGateway } from '../helpers/gateway.js';
import { startGatedUpstream } from './gated-upstream.js';

const logs: string[] = [];
const gw = await startGateway({}, { logger: { level: 'info', stream: { write: (l: string) => logs.push(l) } } });
const up = await startGatedUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const requestLines = () =>
  logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === 'request' && l.route === '/v1/workspaces/:ws/http');

t.test('a client that disconnects mid-transfer gets exactly one request line', async (t) => {
  const { port } = new URL(gw.url);
  const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/workspaces/ws-1/http', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'application/json' } });
  req.on('error', () => undefined);
  req.end(JSON.stringify({ 'flow-slug': 'f', 'step-id': 'gone', request: { url: `${up.url}/gated/a1/2000000?hold=500000`, timeout: 30 }, persist: { type: 'blob', tier: 'ephemeral' } }));
  await up.held('a1');
  req.destroy();
  const end = Date.now() + 10_000;
  while (requestLines().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  up.release('a1');
  // Give a second line, were there one, the time to appear (a bounded wait for a condition that must stay false).
  for (let i = 0; i < 25 && requestLines().length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  const lines = requestLines();
  t.equal(lines.length, 1, `one line: ${JSON.stringify(lines)}`);
  t.match(lines[0], { step: 'f/gone', outcome: 'aborted', workspace: 'ws-1' });
});
