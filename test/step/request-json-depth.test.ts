import t from 'tap';
import { MAX_JSON_DEPTH } from '../../src/upstream/build-request.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const up = await startUpstream();
const gw = await startGateway();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

/** `depth` levels of nesting as JSON text, alternating arrays and objects: [{"a": [ … 1 … ]}]. Built as text: JSON.stringify itself overflows on thousands of levels. */
function nested(depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 === 0 ? '[' : '{"a":';
    close = (i % 2 === 0 ? ']' : '}') + close;
  }
  return `${open}1${close}`;
}

const step = (field: 'json' | 'body', value: string) =>
  gw.call('POST', '/v1/workspaces/ws-1/http', `{"flow-slug":"f","step-id":"s","request":{"url":"${up.url}/echo","method":"post","${field}":${value}}}`);

t.test('json or body nested thousands of levels deep is invalid_request naming the field and the limit, before any upstream request', async (t) => {
  t.equal(MAX_JSON_DEPTH, 64);
  for (const field of ['json', 'body'] as const) {
    const before = up.requests.length;
    const res = await step(field, nested(5000));
    t.equal(res.status, 400, field);
    t.equal(res.json.error.code, 'invalid_request');
    t.equal(res.json.error.details.field, `request.${field}`);
    t.equal(res.json.error.details['max-depth'], 64);
    t.match(res.json.error.message, new RegExp(`request\\.${field} is nested deeper than 64 levels`));
    t.equal(up.requests.length, before, 'nothing was sent upstream');
  }
});

t.test('exactly the depth limit is sent; one level more is refused', async (t) => {
  const ok = await step('json', nested(MAX_JSON_DEPTH));
  t.equal(ok.status, 200, JSON.stringify(ok.json).slice(0, 300));
  t.equal(ok.json.body.body, nested(MAX_JSON_DEPTH).replace(/\s/g, ''), 'sent as given');
  const over = await step('json', nested(MAX_JSON_DEPTH + 1));
  t.equal(over.status, 400);
  t.equal(over.json.error.code, 'invalid_request');
});
