// A graceful shutdown waits for the callbacks of jobs that ended, within its deadline: a callback whose
// first POST failed is retried and delivered before the process exits.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startChildGateway } from '../faults/child-gateway.js';
import { TOKEN_ALL } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';

t.test('SIGTERM after a failed callback POST: the retry is delivered, then the process exits 0', async (t) => {
  const answers: number[] = [];
  // One server is the step's upstream (/data) and the callback's receiver (/hook), which fails its first POST.
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url !== '/hook') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      const status = answers.length === 0 ? 503 : 204;
      answers.push(status);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const dir = await mkdtemp(join(tmpdir(), 'bg-cb-shutdown-'));
  const gw = await startChildGateway(dir, { shutdown: { 'deadline-seconds': 20 } }, { BLOBGATE_SECRET__WS_1__HOOK: 'hook-secret-for-shutdown-0001' });
  t.teardown(async () => {
    gw.kill('SIGKILL');
    await new Promise((r) => receiver.close(r));
    await rm(dir, { recursive: true, force: true });
  });
  const { port } = receiver.address() as AddressInfo;
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/http`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'application/json', prefer: 'respond-async' },
    body: JSON.stringify({ 'flow-slug': 'f', 'step-id': 's', request: { url: `http://127.0.0.1:${port}/data` }, callback: { url: `http://127.0.0.1:${port}/hook`, 'secret-ref': 'hook' } }),
  });
  t.equal(res.status, 202);
  await until('the first callback POST failed', () => answers.includes(503), 20_000);
  gw.kill('SIGTERM');
  t.equal(await gw.exited, 0, gw.output());
  t.match(gw.output(), /"state":"succeeded"/, 'the job itself succeeded');
  t.ok(answers.includes(204), `the retried callback was delivered before exit (${answers.join(', ')})`);
});
