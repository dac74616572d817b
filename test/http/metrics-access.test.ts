import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sha256Hex } from '../../src/config/load.js';
import { Metrics, startMetricsListener } from '../../src/http/metrics.js';
import { TransferGate } from '../../src/http/transfer-gate.js';
import { startGateway, TOKEN_ALL, TOKEN_WS1 } from '../helpers/gateway.js';

const TOKEN_STAR = 'test-token-every-workspace-0';
const METRICS_TOKEN = 'test-metrics-token-000000000';
const tokens = [
  { token: TOKEN_ALL, workspaces: ['ws-1', 'ws-2'] },
  { token: TOKEN_WS1, workspaces: ['ws-1'] },
  { token: TOKEN_STAR, workspaces: ['*'] },
];

t.test('main listener off loopback: /metrics needs an all-workspace token; health stays public', async (t) => {
  // The config says 0.0.0.0 (what decides); the test gateway itself listens on 127.0.0.1 only.
  const gw = await startGateway({ host: '0.0.0.0', tokens });
  t.teardown(() => gw.close());
  const none = await gw.call('GET', '/metrics', undefined, { token: null });
  t.equal(none.status, 401);
  t.equal(none.json.error.code, 'unauthorized');
  const scoped = await gw.call('GET', '/metrics', undefined, { token: TOKEN_WS1 });
  t.equal(scoped.status, 403, 'a workspace-scoped token does not open deployment-wide metrics');
  t.equal(scoped.json.error.code, 'forbidden');
  t.equal((await gw.call('GET', '/metrics', undefined, { token: TOKEN_ALL })).status, 403, 'two workspaces are not every workspace');
  const star = await gw.call('GET', '/metrics', undefined, { token: TOKEN_STAR });
  t.equal(star.status, 200);
  t.match(star.json, /blobgate_transfers_in_flight/);
  t.equal((await gw.call('GET', '/healthz', undefined, { token: null })).status, 200);
  t.equal((await gw.call('GET', '/readyz', undefined, { token: null })).status, 200);
});

t.test('metrics.token is required wherever /metrics is served on the main listener, loopback too', async (t) => {
  const gw = await startGateway({ tokens, metrics: { token: METRICS_TOKEN } });
  t.teardown(() => gw.close());
  t.equal((await gw.call('GET', '/metrics', undefined, { token: null })).status, 401);
  t.equal((await gw.call('GET', '/metrics', undefined, { token: METRICS_TOKEN })).status, 200, 'the metrics token');
  t.equal((await gw.call('GET', '/metrics', undefined, { token: TOKEN_STAR })).status, 200, 'an all-workspace API token');
  const asApi = await gw.call('GET', '/v1/workspaces/ws-1/resources', undefined, { token: METRICS_TOKEN });
  t.equal(asApi.status, 401, 'the metrics token is no API token');
});

t.test('with metrics.listen the main listener does not serve /metrics; the separate listener does', async (t) => {
  const gw = await startGateway({ tokens, metrics: { listen: '127.0.0.1:0' } });
  t.teardown(() => gw.close());
  const res = await gw.call('GET', '/metrics', undefined, { token: TOKEN_STAR });
  t.equal(res.status, 404);
  t.equal(res.json.error.code, 'not_found');
  t.match(res.json.error.message, /metrics listener/);

  const metrics = new Metrics(new TransferGate(1, 0));
  const open = await startMetricsListener(metrics, { host: '127.0.0.1', port: 0 });
  const guarded = await startMetricsListener(metrics, { host: '127.0.0.1', port: 0 }, sha256Hex(METRICS_TOKEN));
  t.teardown(async () => {
    await open.close();
    await guarded.close();
  });
  const at = (l: { address: AddressInfo }, path: string, token?: string): Promise<Response> =>
    fetch(`http://127.0.0.1:${l.address.port}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const scraped = await at(open, '/metrics');
  t.equal(scraped.status, 200);
  t.match(await scraped.text(), /blobgate_transfer_queue_length/);
  t.equal((await at(open, '/v1/workspaces/ws-1/resources')).status, 404, 'nothing but /metrics there');
  const refused = await at(guarded, '/metrics');
  t.equal(refused.status, 401);
  t.match(await refused.json(), { error: { code: 'unauthorized' } });
  t.equal((await at(guarded, '/metrics', 'wrong-token-000000000000')).status, 401);
  t.equal((await at(guarded, '/metrics', METRICS_TOKEN)).status, 200);
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

t.test('main serves BLOBGATE_METRICS_LISTEN and its guard refuses that address as an upstream', async (t) => {
  const root = new URL('../..', import.meta.url).pathname;
  const dataDir = await mkdtemp(join(tmpdir(), 'bg-metrics-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const metricsPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts')], {
    cwd: root,
    env: { PATH: process.env.PATH, BLOBGATE_DATA_DIR: dataDir, BLOBGATE_PORT: '0', BLOBGATE_LOG_LEVEL: 'warn', BLOBGATE_METRICS_LISTEN: `127.0.0.1:${metricsPort}`, BLOBGATE_UPSTREAM_ALLOW: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  for (let i = 0; i < 300 && !/Try it/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
  t.ok(base, out);
  const token = (await readFile(join(dataDir, 'dev-token'), 'utf8')).trim();
  t.equal((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status, 200, 'the metrics listener answers');
  t.equal((await fetch(`${base}/metrics`)).status, 404, 'the main listener does not');
  const step = await fetch(`${base}/v1/workspaces/ws-demo/http`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ 'flow-slug': 'f', 'step-id': 's', request: { url: `http://127.0.0.1:${metricsPort}/metrics`, timeout: 2 } }),
  });
  t.equal(step.status, 403, 'a step cannot scrape the metrics listener');
  t.match(await step.json(), { error: { code: 'destination_blocked' } });
  child.kill('SIGTERM');
  t.equal(await exit, 0);
});
