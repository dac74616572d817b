import t from 'tap';
import { buildConfig, ConfigError } from '../../src/config/load.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

// The seed's flat step beside blobgate's nested one: a body uses one shape,
// templates fill request fields from data, and slot bindings in the seed's
// shape name storage connections that operators map to stores.

const up = await startUpstream();
const gw = await startGateway({
  stores: { retained: { driver: 'local' }, ephemeral: { driver: 'local' }, archive: { driver: 'local' } },
  'storage-connections': { 'acme-drive': 'archive', 'temp-drive': 'ephemeral' },
  templates: {
    'ws-1': {
      'echo-report': { url: `${up.url}/reports/{{data.report-id}}/echo`, method: ':post', headers: { 'x-tenant': '{{data.tenant}}', 'x-kind': 'report' }, query: { a: '1' } },
    },
  },
});
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

t.test('a flat step with data in the persist path, as the issue writes it', async (t) => {
  const res = await gw.step({ url: `${up.url}/bytes/5`, method: ':get', data: { month: '2026-03' }, persist: { type: ':blob', path: 'm/{{data.month}}' } });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.match(res.json['blob-ref'].path, /^workspaces\/ws-1\/persist\/flow\/step\/[0-9a-f-]{36}\/m\/2026-03\/5$/);
});

t.test('one body may not mix the nested and the flat shape', async (t) => {
  const before = up.requests.length;
  const mixed = await gw.step({ request: { url: `${up.url}/bytes/5` }, method: ':get' });
  t.equal(mixed.status, 400);
  t.equal(mixed.json.error.code, 'invalid_request');
  t.match(mixed.json.error.message, /mixes the nested form \(request\) with the flat form \(method/);
  const params = await gw.step({ url: `${up.url}/bytes/5`, data: { a: 1 }, params: { data: { a: 2 } } });
  t.equal(params.json.error.code, 'invalid_request');
  t.match(params.json.error.message, /params and data/);
  const binding = await gw.step({ url: `${up.url}/bytes/5`, persist: { type: 'blob', slot: 'a' }, slots: { a: { root: 'r', 'connection-id': 'platform' } } });
  t.equal(binding.json.error.code, 'invalid_request');
  t.match(binding.json.error.message, /slots\.a mixes the short form \(root\)/);
  t.equal(up.requests.length, before, 'nothing went upstream');
});

t.test('a template fills the request from data; the step overrides it, headers and query merge', async (t) => {
  const res = await gw.step({ template: 'echo-report', data: { 'report-id': 'rep-42', tenant: 'acme' }, headers: { 'x-kind': 'override' }, query: { b: '2' }, json: { n: 1 } });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(res.json.body.method, 'POST');
  t.equal(res.json.body.url, '/reports/rep-42/echo?a=1&b=2');
  t.equal(res.json.body.headers['x-tenant'], 'acme');
  t.equal(res.json.body.headers['x-kind'], 'override', 'the step wins');
  const nested = await gw.step({ request: { template: ':echo-report', method: 'get' }, params: { data: { 'report-id': 'r1', tenant: 't' } } });
  t.equal(nested.json.body.method, 'GET', 'the nested form names a template too');
});

t.test('template errors: unknown id, unresolved variable', async (t) => {
  const unknown = await gw.step({ template: ':nope' });
  t.equal(unknown.json.error.code, 'invalid_request');
  t.match(unknown.json.error.message, /"nope" is not a request template of workspace "ws-1" \(known: echo-report\)/);
  const unresolved = await gw.step({ template: 'echo-report', data: { 'report-id': 'x' } });
  t.equal(unresolved.json.error.code, 'template_unresolved');
  t.equal(unresolved.json.error.details.variable, 'data.tenant');
  t.equal((await gw.step({ template: 'echo-report' }, 'ws-2')).json.error.code, 'invalid_request', 'templates are per workspace');
});

t.test('a step with no request at all says what to give', async (t) => {
  const res = await gw.step({ persist: { type: 'blob' } });
  t.equal(res.status, 400);
  t.equal(res.json.error.code, 'invalid_request');
  t.match(res.json.error.message, /give url \(or connection with path, or a template\)/);
});

t.test('parser-fn is refused, saying to use response-as', async (t) => {
  const res = await gw.step({ url: `${up.url}/json`, 'parser-fn': '(fn [r] r)' });
  t.equal(res.json.error.code, 'invalid_request');
  t.match(res.json.error.message, /parser-fn is not supported: blobgate runs no caller code.*response-as/);
});

t.test('connection-id names a store through storage-connections; the tier rule still holds', async (t) => {
  const slot = (id: string, tier = 'retained') =>
    gw.step({ url: `${up.url}/bytes/5/a.bin`, persist: { type: ':blob', slot: ':archive', tier }, slots: { archive: { 'binding-type': 'connection', 'connection-id': id, config: { root: 'r' } } } });
  const ok = await slot('acme-drive');
  t.equal(ok.status, 200, JSON.stringify(ok.json));
  t.equal(ok.json['blob-ref'].store, 'archive');
  t.equal(ok.json['blob-ref'].path, 'workspaces/ws-1/storage/r/a.bin');
  const platform = await slot('platform', ':ephemeral');
  t.equal(platform.json['blob-ref'].store, 'ephemeral', '"platform" is the tier\'s store');
  const unknown = await slot('other');
  t.equal(unknown.json.error.code, 'invalid_request');
  t.match(unknown.json.error.message, /connection-id "other" is not a storage connection \(known: platform, acme-drive, temp-drive\)/);
  const wrongTier = await slot('temp-drive');
  t.equal(wrongTier.json.error.code, 'invalid_request', 'a retained blob does not go to the ephemeral store');
  t.match(wrongTier.json.error.message, /backs only the ephemeral tier/);
});

t.test('persist content-type keywords resolve; an unknown one is refused before the upstream is called', async (t) => {
  const before = up.requests.length;
  const bad = await gw.step({ url: `${up.url}/bytes/5`, persist: { type: 'blob', 'content-type': 'not a type' } });
  t.equal(bad.status, 400);
  t.equal(bad.json.error.code, 'invalid_request');
  t.equal(bad.json.error.details.field, 'persist.content-type');
  t.equal(up.requests.length, before, 'no upstream request');
  const accept = await gw.step({ url: `${up.url}/bytes/5`, accept: ':nonsense!' });
  t.equal(accept.json.error.details.field, 'accept');
});

t.test('templates and storage-connections are checked at load, every problem at once', async (t) => {
  const err = t.throws(() =>
    buildConfig(
      {
        templates: { 'ws-1': { a: { persist: { type: 'blob' }, method: 1, headers: { authorization: 'Bearer x' } }, b: { type: ':table', request: { path: '/x' } } } },
        'storage-connections': { platform: 'retained', x: 'nope' },
      },
      {},
      '/tmp',
    ),
  ) as ConfigError;
  const text = err.problems.join('\n');
  t.match(text, /templates\.ws-1\.a\.persist.*stay on the step/);
  t.match(text, /templates\.ws-1\.a\.method.*must be a string/);
  t.match(text, /headers\.authorization.*secret-ref/);
  t.match(text, /templates\.ws-1\.b\.type.*http-request/);
  t.match(text, /storage-connections\.platform.*reserved/);
  t.match(text, /storage-connections\.x.*store "nope"/);
});
