import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { startCredentialServer } from '../helpers/credential-server.js';
import { startGateway } from '../helpers/gateway.js';

// The platform's own examples (its HTTP step reference and its guide to
// persisted results), written as JSON exactly as the seeds write them — flat
// step maps, keyword values, the seed's slot bindings — run through blobgate
// against real upstreams on 127.0.0.1. Only URLs change: they point at
// loopback instead of api.example.com / www.googleapis.com.

const PDF = Buffer.from('%PDF-1.7\n' + 'x'.repeat(2000) + '\n%%EOF\n');

/** The API of the examples: GET /reports/latest and /exports/latest answer a PDF, GET /users a JSON list. */
async function startReportsApi(): Promise<{ url: string; requests: Array<{ method: string; url: string; requestId?: string }>; stop(): Promise<void> }> {
  const requests: Array<{ method: string; url: string; requestId?: string }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', ...(req.headers['x-request-id'] ? { requestId: String(req.headers['x-request-id']) } : {}) });
    req.resume();
    if (req.method === 'GET' && (req.url ?? '').startsWith('/users?')) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ users: [{ id: 1 }, { id: 2 }] }));
      return;
    }
    if (req.method === 'GET' && /^\/(reports|exports)\/latest(\?|$)/.test(req.url ?? '')) {
      res.setHeader('content-type', 'application/pdf');
      res.setHeader('content-length', PDF.length);
      res.end(PDF);
      return;
    }
    res.statusCode = 404;
    res.end('no such report');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const api = await startReportsApi();
const cs = await startCredentialServer({ bearer: 'b'.repeat(20), apiKey: 'k'.repeat(20), user: 'u', password: 'p'.repeat(20) });
const gw = await startGateway(
  {
    connections: { 'ws-1': { api: { 'base-url': api.url }, 'reports-api': { 'base-url': api.url } } },
    // The flow definition's :templates [{:id :download-report :type :http-request :request {:path "/reports/latest" :method :get}}], keyed by id.
    templates: { 'ws-1': { ':download-report': { id: ':download-report', type: ':http-request', request: { path: '/reports/latest', method: ':get' } } } },
    secrets: { 'allow-plain-on-url': true },
  },
  { env: { BLOBGATE_SECRET__WS_1__GOOGLE_DRIVE_SERVICE_ACCOUNT: JSON.stringify(cs.serviceAccount) } },
);
t.teardown(async () => {
  await gw.close();
  await api.stop();
  await cs.stop();
});

const post = (body: Record<string, unknown>) => gw.call('POST', '/v1/workspaces/ws-1/http', body);

t.test('004 canonical example: report download with template and data into the :archive slot', async (t) => {
  const before = api.requests.length;
  const res = await post({
    'flow-slug': 'reports',
    'step-id': 'download-report',
    connection: ':api',
    template: ':download-report',
    data: { 'customer-id': 'cust-77', 'report-id': 'rep-42', 'run-date': '2026-03-23' },
    'response-as': ':bytes',
    persist: { type: ':blob', slot: ':archive', path: '{{data.customer-id}}/{{data.run-date}}', filename: 'summary-{{data.report-id}}.pdf', tier: ':ephemeral' },
    slots: { archive: { 'binding-type': ':connection', 'connection-id': 'platform', config: { root: 'reports/acme' } } },
  });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(res.json['blob-ref'].path, 'workspaces/ws-1/storage/reports/acme/cust-77/2026-03-23/summary-rep-42.pdf');
  t.equal(res.json['blob-ref'].tier, 'ephemeral');
  t.equal(res.json['blob-ref'].size, PDF.length);
  t.equal(res.json['content-type'], 'application/pdf');
  t.same(api.requests.slice(before), [{ method: 'GET', url: '/reports/latest' }], 'the template gave path and method');
});

t.test('004 canonical example: get-users with connection, path, query, headers and retry', async (t) => {
  const res = await post({
    'flow-slug': 'reports',
    'step-id': 'get-users',
    connection: ':api',
    path: '/users',
    method: ':get',
    query: { limit: 10 },
    // What the :build-http-headers function step returns for its input.
    headers: { 'X-Request-Id': 'req-1' },
    retry: { 'max-attempts': 3, 'backoff-ms': 500 },
  });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.same(res.json.body, { users: [{ id: 1 }, { id: 2 }] });
  t.equal(res.json.attempts, 1);
  t.same(api.requests.at(-1), { method: 'GET', url: '/users?limit=10', requestId: 'req-1' });
});

t.test('000 sharing example: bindings with connection-id "platform" and root reports/acme', async (t) => {
  const res = await post({
    'flow-slug': 'report-producer',
    'step-id': 'download-report',
    connection: ':reports-api',
    path: '/exports/latest',
    'response-as': ':bytes',
    input: { 'customer-id': 'cust-77', 'run-date': '2026-03-24', 'report-id': 'rep-42' },
    persist: { type: ':blob', slot: ':archive', path: '{{input.customer-id}}/{{input.run-date}}', filename: 'summary-{{input.report-id}}.pdf' },
    bindings: { archive: { 'binding-type': ':connection', 'connection-id': 'platform', config: { root: 'reports/acme' } } },
  });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(res.json['blob-ref'].path, 'workspaces/ws-1/storage/reports/acme/cust-77/2026-03-24/summary-rep-42.pdf');
  t.equal(res.json['blob-ref'].tier, 'retained', 'no :tier is the retained default');
  // The consumer's picker scopes to the same root without knowing the path.
  const listed = await gw.call('GET', '/v1/workspaces/ws-1/resources?storage-root=reports%2Facme&path-prefix=cust-77');
  t.equal(listed.status, 200, JSON.stringify(listed.json));
  t.ok(listed.json.items.some((i: { uri: string }) => i.uri === res.json.uri), 'listed under storage-root reports/acme');
});

t.test('000: two end-user installations stay isolated under installations/<profile-id>/<prefix>', async (t) => {
  const step = (profile: string) =>
    post({
      'flow-slug': 'report-producer',
      'step-id': 'download-report',
      'profile-id': profile,
      connection: ':reports-api',
      path: '/exports/latest',
      'response-as': ':bytes',
      input: { 'customer-id': 'cust-77', 'run-date': '2026-03-24', 'report-id': 'rep-42' },
      persist: { type: ':blob', slot: ':archive', path: '{{input.customer-id}}/{{input.run-date}}', filename: 'summary-{{input.report-id}}.pdf' },
      bindings: { archive: { 'binding-type': ':connection', 'connection-id': 'platform', config: { prefix: 'reports' } } },
    });
  const producer = await step('producer-installation-id');
  const consumer = await step('consumer-installation-id');
  t.equal(producer.json['blob-ref'].path, 'workspaces/ws-1/storage/installations/producer-installation-id/reports/cust-77/2026-03-24/summary-rep-42.pdf');
  t.equal(consumer.json['blob-ref'].path, 'workspaces/ws-1/storage/installations/consumer-installation-id/reports/cust-77/2026-03-24/summary-rep-42.pdf');
});

t.test('000 minimal pattern: an ad hoc URL, :bytes, ephemeral tier, filename and content-type', async (t) => {
  const res = await post({
    'flow-slug': 'orders',
    'step-id': 'download-orders',
    url: `${api.url}/exports/latest`,
    'response-as': ':bytes',
    persist: { type: ':blob', tier: ':ephemeral', filename: 'orders.csv', 'content-type': 'text/csv' },
  });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.match(res.json['blob-ref'].path, /^workspaces\/ws-1\/persist\/orders\/download-orders\/[0-9a-f-]{36}\/orders\.csv$/);
  t.equal(res.json['content-type'], 'text/csv');
});

t.test('004 Google Drive list: :get, the query, and :google-service-account auth', async (t) => {
  const res = await post({
    'flow-slug': 'drive-sync',
    'step-id': 'list-drive-files',
    type: ':http',
    title: 'List Drive files',
    url: `${cs.url}/google`,
    method: ':get',
    query: {
      q: "'<folder-id>' in parents and trashed = false",
      fields: 'nextPageToken,files(id,name,mimeType,modifiedTime,size,driveId)',
      pageSize: 1000,
      supportsAllDrives: 'true',
      includeItemsFromAllDrives: 'true',
    },
    auth: {
      type: ':google-service-account',
      'secret-ref': ':google-drive-service-account',
      scopes: ['https://www.googleapis.com/auth/drive.readonly', 'https://www.googleapis.com/auth/drive.metadata.readonly'],
    },
  });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(res.json.type, 'http-response');
  t.same(res.json.body, { ok: true }, 'the minted token was accepted');
  t.same(cs.tokenRequests.at(-1)?.scope, 'https://www.googleapis.com/auth/drive.readonly https://www.googleapis.com/auth/drive.metadata.readonly');
});
