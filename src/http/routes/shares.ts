import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config/types.js';
import { BlobgateError } from '../../errors.js';
import { locate } from '../../resources/locate.js';
import { createShare, type ShareRequest } from '../../shares/create-share.js';
import { sharesIn } from '../../shares/share-store.js';
import type { StoreRegistry } from '../../storage/registry.js';
import { grantOf, requireWorkspace } from '../auth.js';
import { breytaWorkspaceHeader, shareBody, shareTokenParams, workspaceParams, workspaceShareTokenParams } from '../schemas.js';

export interface ShareDeps {
  config: Config;
  stores: StoreRegistry;
  /** The base URL public links are written with (public-url, else the listening address). */
  baseUrl: () => string;
}

/**
 * Creating and revoking public share links (docs/shares.md), behind the API
 * token: the seed's `/api/resources/shares` with the workspace in
 * `X-Breyta-Workspace`, and the same under `/v1/workspaces/:ws/shares`.
 */
export function shareRoutes(app: FastifyInstance, deps: ShareDeps): void {
  const shares = () => sharesIn(deps.stores, deps.config.tiers.retained.store);

  const create = async (request: FastifyRequest, reply: FastifyReply, workspace: string, body: ShareRequest) => {
    const grant = grantOf(request);
    requireWorkspace(grant, workspace);
    request.facts.workspace = workspace;
    const located = locate(deps.stores, body.uri, (ws) => {
      requireWorkspace(grant, ws);
      if (ws !== workspace) {
        throw new BlobgateError('invalid_request', `"uri" names workspace "${ws}", but the share is made in workspace "${workspace}"; share a resource of that workspace.`, { field: 'uri' });
      }
    });
    const created = await createShare({ shares: shares(), baseUrl: deps.baseUrl() }, located, body);
    return reply.code(201).send(created);
  };

  const revoke = async (request: FastifyRequest, reply: FastifyReply, workspace: string, token: string) => {
    requireWorkspace(grantOf(request), workspace);
    request.facts.workspace = workspace;
    if (!(await shares().revoke(token, workspace))) {
      throw new BlobgateError('not_found', `Workspace "${workspace}" has no live share with that token (it may have expired or been revoked already).`);
    }
    return reply.code(204).send();
  };

  app.post<{ Body: ShareRequest; Headers: { 'x-breyta-workspace': string } }>(
    '/api/resources/shares',
    { schema: { headers: breytaWorkspaceHeader, body: shareBody } },
    async (request, reply) => create(request, reply, request.headers['x-breyta-workspace'], request.body),
  );
  app.delete<{ Params: { token: string }; Headers: { 'x-breyta-workspace': string } }>(
    '/api/resources/shares/:token',
    { schema: { headers: breytaWorkspaceHeader, params: shareTokenParams } },
    async (request, reply) => revoke(request, reply, request.headers['x-breyta-workspace'], request.params.token),
  );
  app.post<{ Body: ShareRequest; Params: { ws: string } }>(
    '/v1/workspaces/:ws/shares',
    { schema: { params: workspaceParams, body: shareBody } },
    async (request, reply) => create(request, reply, request.params.ws, request.body),
  );
  app.delete<{ Params: { ws: string; token: string } }>(
    '/v1/workspaces/:ws/shares/:token',
    { schema: { params: workspaceShareTokenParams } },
    async (request, reply) => revoke(request, reply, request.params.ws, request.params.token),
  );
}
