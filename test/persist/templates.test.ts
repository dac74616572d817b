import t from 'tap';
import { interpolate } from '../../src/persist/templates.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const scope = { input: { 'tenant-id': 't1', n: 7, ok: true, obj: { a: 1 } }, data: { 'run-date': '2026-03-23' }, 'step-id': 'dl', 'workspace-id': 'ws-1' };

t.test('both spellings interpolate dotted paths and runtime fields', async (t) => {
  t.equal(interpolate('exports/{{input.tenant-id}}/<<data.run-date>>', scope, 'f'), 'exports/t1/2026-03-23');
  t.equal(interpolate('{{ step-id }}-<< workspace-id >>-{{input.n}}-{{input.ok}}', scope, 'f'), 'dl-ws-1-7-true');
  t.equal(interpolate('no templates', scope, 'f'), 'no templates');
});

t.test('an unknown variable is template_unresolved naming it, never an empty string', async (t) => {
  t.throws(() => interpolate('a/{{input.missing}}', scope, 'persist.path'), { code: 'template_unresolved', details: { variable: 'input.missing', field: 'persist.path' } });
  t.throws(() => interpolate('{{nope}}', scope, 'persist.path'), { code: 'template_unresolved', message: /"nope" is not defined/ });
  t.throws(() => interpolate('{{input.obj}}', scope, 'persist.filename'), { code: 'template_unresolved', message: /not a string, number or boolean/ });
  t.throws(() => interpolate('{{input..x}}', scope, 'persist.filename'), { code: 'template_unresolved' });
});

t.test('templates resolve end to end from params, query and runtime fields', async (t) => {
  const res = await gw.step({
    'run-id': 'r-9',
    request: { url: `${up.url}/bytes/5`, query: { page: 3 } },
    params: { input: { 'tenant-id': 'acme' }, data: { 'report-id': 'rep-42' } },
    persist: { type: 'blob', path: 'exports/{{input.tenant-id}}/p<<query.page>>', filename: 'summary-{{data.report-id}}-{{run-id}}-{{flow-slug}}.pdf' },
  });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.match(res.json['blob-ref'].path, /^workspaces\/ws-1\/persist\/flow\/step\/[0-9a-f-]{36}\/exports\/acme\/p3\/summary-rep-42-r-9-flow\.pdf$/);
  t.equal(res.json['content-type'], 'application/octet-stream', 'the response type wins over the filename extension');
});

t.test('an unresolved template fails before any upstream request', async (t) => {
  const before = up.requests.length;
  const res = await gw.step({ request: { url: `${up.url}/bytes/5` }, persist: { type: 'blob', path: '{{input.tenant}}' } });
  t.equal(res.status, 400);
  t.equal(res.json.error.code, 'template_unresolved');
  t.match(res.json.error.message, /input\.tenant/);
  t.equal(up.requests.length, before);
  const noRun = await gw.step({ request: { url: `${up.url}/bytes/5` }, persist: { type: 'blob', filename: 'x-{{run-id}}' } });
  t.equal(noRun.json.error.code, 'template_unresolved', 'run-id is unresolved when the step has none');
});

const badPaths: Array<[string, string, RegExp]> = [
  ['empty segment', 'a//b', /empty segment/],
  ['trailing slash', 'a/b/', /empty segment/],
  ['dot', 'a/./b', /"\." segment/],
  ['dot-dot', 'a/../b', /"\.\." segment/],
  ['dot-dot via template', '{{input.up}}/x', /"\.\." segment/],
  ['backslash', 'a\\b', /backslash/],
  ['NUL', 'a\u0000b', /NUL/],
  ['control character', 'a\u0007b', /control characters/],
  ['leading slash', '/etc/x', /leading "\/"/],
];
for (const [name, path, message] of badPaths) {
  t.test(`persist.path with ${name} is path_invalid`, async (t) => {
    const before = up.requests.length;
    const res = await gw.step({ request: { url: `${up.url}/bytes/5` }, params: { input: { up: '..' } }, persist: { type: 'blob', path } });
    t.equal(res.status, 400);
    t.equal(res.json.error.code, 'path_invalid');
    t.match(res.json.error.message, message);
    t.equal(up.requests.length, before, 'no upstream request');
  });
}

t.test('a filename with a bad segment is path_invalid; slashes in a filename make segments', async (t) => {
  const bad = await gw.step({ request: { url: `${up.url}/bytes/5` }, persist: { type: 'blob', filename: '../x' } });
  t.equal(bad.json.error.code, 'path_invalid');
  const ok = await gw.step({ request: { url: `${up.url}/bytes/5` }, persist: { type: 'blob', filename: 'sub/x.bin' } });
  t.equal(ok.status, 200);
  t.match(ok.json['blob-ref'].path, /\/sub\/x\.bin$/);
  const badSlug = await gw.call('POST', '/v1/workspaces/ws-1/http', { 'flow-slug': '..', 'step-id': 's', request: { url: `${up.url}/bytes/5` }, persist: { type: 'blob' } });
  t.equal(badSlug.json.error.code, 'path_invalid');
});

t.test('filename defaults to the last URL segment, else body + extension', async (t) => {
  const a = await gw.step({ request: { url: `${up.url}/bytes/5/report%20final.csv?x=1` }, persist: { type: 'blob' } });
  t.match(a.json['blob-ref'].path, /\/report final\.csv$/);
  const b = await gw.step({ request: { url: `${up.url}/json` }, persist: { type: 'blob', path: 'p' } });
  t.match(b.json['blob-ref'].path, /\/p\/json$/);
  const c = await gw.step({ request: { url: `${up.url}/bytes/5/?type=application/pdf` }, persist: { type: 'blob' } });
  t.match(c.json['blob-ref'].path, /\/body\.pdf$/);
});
