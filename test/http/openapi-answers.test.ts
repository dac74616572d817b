import { Ajv2020 } from 'ajv/dist/2020.js';
import t, { type Test } from 'tap';
import { generateOpenApi } from '../../scripts/openapi-document.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

/**
 * The answers blobgate gives match the schemas the OpenAPI document states for
 * them (status and body), so the document is not only valid but true.
 */
type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>; components: { schemas: Record<string, object> } };

const doc = (await generateOpenApi()) as Doc;
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat('date-time', true).addFormat('uri', true).addFormat('binary', true);
ajv.addSchema({ $id: 'blobgate', components: doc.components });
const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

/** Asserts the answer's status is documented for the operation and its JSON body fits the documented schema. */
function conforms(t: Test, path: string, method: string, res: { status: number; json: unknown }): void {
  const response = doc.paths[path]?.[method]?.responses[String(res.status)];
  t.ok(response, `${method.toUpperCase()} ${path} documents ${res.status}`);
  const schema = response?.content?.['application/json']?.schema;
  if (!schema) return void t.equal(res.json, undefined, 'no body where none is documented');
  const check = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"blobgate#/components/')));
  t.ok(check(res.json), `${method.toUpperCase()} ${path} ${res.status}: ${ajv.errorsText(check.errors)}`);
}

t.test('every kind of answer fits the document', async (t) => {
  conforms(t, '/healthz', 'get', await gw.call('GET', '/healthz', undefined, { token: null }));
  conforms(t, '/readyz', 'get', await gw.call('GET', '/readyz', undefined, { token: null }));
  const inline = await gw.step({ request: { url: `${up.url}/json` } });
  t.equal(inline.status, 200);
  conforms(t, '/v1/workspaces/{ws}/http', 'post', inline);
  const persisted = await gw.step({ request: { url: `${up.url}/json`, 'response-as': 'bytes' }, persist: { type: 'blob', tier: 'ephemeral', 'search-index': { tags: ['a'] } } });
  t.equal(persisted.status, 200);
  conforms(t, '/v1/workspaces/{ws}/http', 'post', persisted);
  conforms(t, '/v1/workspaces/{ws}/http', 'post', await gw.step({ request: { url: 'ftp://example.com/x' } }));

  const put = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads/a.txt?slot=docs&root=reports`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'text/plain' }, body: 'hello' });
  const ref = (await put.json()) as { uri: string };
  conforms(t, '/v1/workspaces/{ws}/uploads/{filename}', 'put', { status: put.status, json: ref });
  const form = new FormData();
  form.append('path', 'forms');
  form.append('file', new Blob(['abc'], { type: 'text/plain' }), 'b.txt');
  const post = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: form });
  conforms(t, '/v1/workspaces/{ws}/uploads', 'post', { status: post.status, json: await post.json() });

  const q = `?uri=${encodeURIComponent(ref.uri)}`;
  conforms(t, '/v1/resources', 'get', await gw.call('GET', `/v1/resources${q}`));
  conforms(t, '/v1/resources', 'get', await gw.call('GET', `/v1/resources${q}`, undefined, { token: null }));
  conforms(t, '/v1/workspaces/{ws}/resources', 'get', await gw.call('GET', '/v1/workspaces/ws-1/resources?limit=1'));
  conforms(t, '/v1/workspaces/{ws}/resources', 'get', await gw.call('GET', '/v1/workspaces/ws-1/resources?limit=x'));
  conforms(t, '/v1/resources/url', 'post', await gw.call('POST', '/v1/resources/url', { uri: ref.uri }));
  conforms(t, '/v1/resources/content', 'get', await gw.call('GET', `/v1/resources/content${q}`, undefined, { headers: { range: 'bytes=99-' } }));
  conforms(t, '/v1/resources', 'delete', await gw.call('DELETE', `/v1/resources${q}`));
  conforms(t, '/v1/resources', 'get', await gw.call('GET', `/v1/resources${q}`));
});
