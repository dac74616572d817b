import t from 'tap';
import { generateOpenApi } from '../../scripts/openapi-document.js';
import { startGateway } from '../helpers/gateway.js';

// X-Request-Id is part of the API (src/http/request-log.ts): accepted on
// every operation, answered on every response, errors included. The document
// says so on each operation and each answer, through one parameter and one
// header component, and the gateway does what it says.

type Ref = { $ref?: string };
type Doc = {
  paths: Record<string, Record<string, { operationId: string; parameters?: Ref[]; responses: Record<string, { headers?: Record<string, Ref> }> }>>;
  components: { parameters?: Record<string, { name: string; in: string }>; headers?: Record<string, unknown> };
};

t.test('every operation accepts X-Request-Id and every answer documents it', async (t) => {
  const doc = (await generateOpenApi()) as Doc;
  t.match(doc.components.parameters?.RequestId, { name: 'X-Request-Id', in: 'header', required: false });
  t.ok(doc.components.headers?.RequestId, 'the response header is a component');
  const missingParam: string[] = [];
  const missingHeader: string[] = [];
  let responses = 0;
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!(op.parameters ?? []).some((p) => p.$ref === '#/components/parameters/RequestId')) missingParam.push(`${method} ${path}`);
      for (const [status, r] of Object.entries(op.responses)) {
        responses++;
        if (r.headers?.['X-Request-Id']?.$ref !== '#/components/headers/RequestId') missingHeader.push(`${method} ${path} ${status}`);
      }
    }
  }
  t.ok(responses > 50, `looked at ${responses} responses`);
  t.same(missingParam, [], 'operations without the X-Request-Id parameter');
  t.same(missingHeader, [], 'responses without the X-Request-Id header');
});

t.test('the gateway answers with the id it was given, and with a generated one on an error', async (t) => {
  const gw = await startGateway();
  t.teardown(() => gw.close());
  const given = await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': 'runner-7/step-3' } });
  t.equal(given.status, 200);
  t.equal(given.headers.get('x-request-id'), 'runner-7/step-3');
  await given.arrayBuffer();
  const refused = await fetch(`${gw.url}/v1/resources?uri=res://nope`);
  t.equal(refused.status, 401);
  t.match(refused.headers.get('x-request-id'), /^[0-9a-f-]{36}$/, 'an answer to a request without an id carries a new one');
  await refused.arrayBuffer();
});
