import { readFile } from 'node:fs/promises';
import { createConfig, lintFromString, type NormalizedProblem } from '@redocly/openapi-core';
import t from 'tap';
import { generateOpenApi } from '../../scripts/openapi-document.js';
import { startGateway } from '../helpers/gateway.js';

const KEPT = new URL('../../openapi.json', import.meta.url);

type Doc = { openapi: string; paths: Record<string, Record<string, { operationId?: string; security?: unknown[]; responses: Record<string, unknown>; requestBody?: unknown }>> };

/**
 * Warnings of Redocly's recommended rules that are true of blobgate and stay:
 * health and readiness have no 4xx answer, and the project has no licence.
 */
const ACCEPTED = new Set(['warn operation-4xx-response #/paths/~1healthz/get/responses', 'warn operation-4xx-response #/paths/~1readyz/get/responses', 'warn info-license #/info']);

/** Redocly's linter with its `recommended` rules: the OpenAPI 3.1 structure (struct) plus completeness rules. */
async function lint(source: string, name: string): Promise<string[]> {
  const config = await createConfig({ extends: ['recommended'] });
  const problems: NormalizedProblem[] = await lintFromString({ source, absoluteRef: name, config });
  return problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer ?? ''}${ACCEPTED.has(`${p.severity} ${p.ruleId} ${p.location[0]?.pointer ?? ''}`) ? '' : ` - ${p.message}`}`);
}

t.test('openapi.json in the repo matches the route schemas (run `npm run openapi` after changing a route)', async (t) => {
  const kept = JSON.parse(await readFile(KEPT, 'utf8')) as Doc;
  const generated = (await generateOpenApi()) as Doc;
  t.same(kept, generated);
  t.same(Object.keys(generated.paths).sort(), [
    '/api/resources/shares',
    '/api/resources/shares/{token}',
    '/healthz',
    '/public/artifact-previews/{token}',
    '/public/artifact-previews/{token}/download',
    '/readyz',
    '/v1/resources',
    '/v1/resources/content',
    '/v1/resources/url',
    '/v1/signed/{path}',
    '/v1/workspaces/{ws}/http',
    '/v1/workspaces/{ws}/jobs',
    '/v1/workspaces/{ws}/jobs/{id}',
    '/v1/workspaces/{ws}/jobs/{id}/events',
    '/v1/workspaces/{ws}/resources',
    '/v1/workspaces/{ws}/shares',
    '/v1/workspaces/{ws}/shares/{token}',
    '/v1/workspaces/{ws}/uploads',
    '/v1/workspaces/{ws}/uploads/{filename}',
  ]);
  t.ok(generated.paths['/v1/workspaces/{ws}/http']?.post?.requestBody, 'the step body schema is in the document');
});

t.test('the generated document and openapi.json pass Redocly lint (recommended rules) with no error', async (t) => {
  const generated = JSON.stringify(await generateOpenApi(), null, 2);
  for (const [name, source] of [['generated', generated], ['openapi.json', await readFile(KEPT, 'utf8')]] as const) {
    const problems = await lint(source, name);
    t.same(problems.filter((p) => !ACCEPTED.has(p)), [], `${name}: no problem but the accepted warnings`);
  }
});

t.test('each operation states its answers, its id and who may call it', async (t) => {
  const doc = (await generateOpenApi()) as Doc;
  const op = (path: string, method: string) => doc.paths[path]![method]!;
  t.equal(doc.openapi, '3.1.0');
  t.same(Object.keys(op('/v1/resources', 'delete').responses).filter((s) => s.startsWith('2')), ['204'], 'DELETE answers 204');
  t.same(Object.keys(op('/v1/workspaces/{ws}/uploads', 'post').responses).filter((s) => s.startsWith('2')), ['201'], 'uploads answer 201');
  t.same(Object.keys(op('/v1/workspaces/{ws}/uploads/{filename}', 'put').responses).filter((s) => s.startsWith('2')), ['201']);
  for (const path of ['/healthz', '/readyz']) t.same(op(path, 'get').security, [], `${path} needs no token`);
  t.same(op('/v1/signed/{path}', 'get').security, [], 'a signed URL needs no token');
  t.equal(op('/v1/resources', 'get').security, undefined, 'API routes keep the document-wide bearer requirement');
  const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((o) => o.operationId));
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  t.ok(ids.every(Boolean), 'every operation has an operationId');
  t.match(op('/v1/resources/content', 'get').responses, { 401: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } });
});

t.test('the running gateway serves the same document at /openapi.json', async (t) => {
  const gw = await startGateway();
  t.teardown(() => gw.close());
  const res = await gw.call('GET', '/openapi.json', undefined, { token: null });
  t.equal(res.status, 200);
  t.same(res.json, JSON.parse(await readFile(KEPT, 'utf8')));
});
