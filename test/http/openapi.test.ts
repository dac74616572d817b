import { readFile } from 'node:fs/promises';
import t from 'tap';
import { generateOpenApi } from '../../src/http/openapi.js';
import { startGateway } from '../helpers/gateway.js';

t.test('openapi.json in the repo matches the route schemas (run `npm run openapi` after changing a route)', async (t) => {
  const kept = JSON.parse(await readFile(new URL('../../openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, unknown> };
  const generated = (await generateOpenApi()) as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
  t.same(kept, generated);
  t.same(Object.keys(generated.paths).sort(), [
    '/healthz',
    '/readyz',
    '/v1/resources',
    '/v1/resources/content',
    '/v1/resources/url',
    '/v1/signed/{*}',
    '/v1/workspaces/{ws}/http',
    '/v1/workspaces/{ws}/resources',
    '/v1/workspaces/{ws}/uploads',
    '/v1/workspaces/{ws}/uploads/{filename}',
  ]);
  t.ok(generated.paths['/v1/workspaces/{ws}/http']?.post?.requestBody, 'the step body schema is in the document');
});

t.test('the running gateway serves the same document at /openapi.json', async (t) => {
  const gw = await startGateway();
  t.teardown(() => gw.close());
  const res = await gw.call('GET', '/openapi.json', undefined, { token: null });
  t.equal(res.status, 200);
  t.same(res.json, JSON.parse(await readFile(new URL('../../openapi.json', import.meta.url), 'utf8')));
});
