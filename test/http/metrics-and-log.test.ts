import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const logs: string[] = [];
const up = await startUpstream();
const gw = await startGateway({ tiers: { retained: { 'cap-bytes': 1000 } } }, { logger: { level: 'info', stream: { write: (l: string) => logs.push(l) } } });
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)) || (want.length === 0 && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

t.test('metrics count transfers by outcome, bytes, refusals, signed URLs and durations', async (t) => {
  const ok1 = await gw.step({ request: { url: `${up.url}/bytes/600` }, persist: { type: 'blob' } });
  await gw.step({ request: { url: `${up.url}/bytes/400` }, persist: { type: 'blob' } });
  await gw.step({ request: { url: `${up.url}/bytes/1001` }, persist: { type: 'blob' } });
  await gw.step({ request: { url: 'http://169.254.169.254/' } });
  await gw.step({ request: { url: `${up.url}/json` } });
  await gw.call('POST', '/v1/resources/url', { uri: ok1.json.uri });
  const res = await gw.call('GET', '/metrics', undefined, { token: null });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type') ?? '', /text\/plain/);
  const text = res.json as string;
  t.equal(metric(text, 'blobgate_transfers_total', { kind: 'step', outcome: 'ok', tier: 'retained', store: 'retained' }), 2);
  t.equal(metric(text, 'blobgate_transfers_total', { outcome: 'cap_exceeded' }), 1);
  t.equal(metric(text, 'blobgate_transfers_total', { outcome: 'destination_blocked' }), 1);
  t.equal(metric(text, 'blobgate_persisted_bytes_total', { tier: 'retained', store: 'retained' }), 1000);
  t.equal(metric(text, 'blobgate_transfer_size_bytes_count', { kind: 'step', tier: 'retained', store: 'retained' }), 2, 'each committed transfer sized');
  t.equal(metric(text, 'blobgate_transfer_size_bytes_sum', { kind: 'step', tier: 'retained', store: 'retained' }), 1000);
  t.equal(metric(text, 'blobgate_transfer_size_bytes_bucket', { kind: 'step', store: 'retained', le: '1024' }), 2, 'both below 1 KiB');
  t.equal(metric(text, 'blobgate_refusals_total', { reason: 'cap' }), 1);
  t.equal(metric(text, 'blobgate_refusals_total', { reason: 'ssrf' }), 1);
  t.equal(metric(text, 'blobgate_signed_urls_total', { store: 'retained' }), 1);
  t.equal(metric(text, 'blobgate_upstream_response_seconds_count', { status: '200', outcome: 'ok' }), 4, 'four upstream responses timed');
  t.equal(metric(text, 'blobgate_upstream_response_seconds_count', { status: '', outcome: 'destination_blocked' }), 1, 'a refused connect has no status');
  t.equal(metric(text, 'blobgate_store_write_seconds_count', { store: 'retained', outcome: 'ok' }), 2);
  t.equal(metric(text, 'blobgate_transfers_in_flight'), 0);
  t.equal(metric(text, 'blobgate_transfer_queue_length'), 0);
  t.match(text, /blobgate_process_resident_memory_bytes/);
});

t.test('one log line per request, with request id, workspace, step, outcome, bytes and duration; no query strings', async (t) => {
  logs.length = 0;
  await gw.step({ request: { url: `${up.url}/bytes/300` }, persist: { type: 'blob' } });
  await gw.step({ request: { url: `${up.url}/bytes/2000` }, persist: { type: 'blob' } });
  const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
  t.equal(lines.length, 2, 'exactly one line per request');
  t.match(lines[0], { reqId: /^[0-9a-f]{8}-[0-9a-f]{4}-/, method: 'POST', route: '/v1/workspaces/:ws/http', status: 200, workspace: 'ws-1', step: 'flow/step', outcome: 'ok', bytes: 300, store: 'retained', tier: 'retained', attempts: 1 });
  t.type(lines[0]?.durationMs, 'number');
  t.match(lines[1], { status: 413, outcome: 'cap_exceeded', workspace: 'ws-1' });
  logs.length = 0;
  await gw.call('GET', '/v1/resources?uri=res%3A%2F%2Fv1%2Fws%2Fws-1%2Ffile%2Fblob%2Fretained%2Fnope');
  const [line] = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
  t.match(line, { route: '/v1/resources', status: 404, outcome: 'not_found' });
  t.notMatch(JSON.stringify(line), /res%3A|nope|authorization|Bearer/, 'no query string, no header');
});
