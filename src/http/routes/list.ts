import type { FastifyInstance } from 'fastify';
import { listResources, type ListQuery } from '../../resources/list.js';
import type { StoreRegistry } from '../../storage/registry.js';
import { listQuery, workspaceParams } from '../schemas.js';

/**
 * GET /v1/workspaces/:ws/resources: the listing and its filters live in
 * src/resources/list.ts. The token and its grant of `:ws` are checked before
 * this runs (src/http/auth.ts).
 */
export function listRoutes(app: FastifyInstance, deps: { stores: StoreRegistry }): void {
  app.get<{ Params: { ws: string }; Querystring: ListQuery }>(
    '/v1/workspaces/:ws/resources',
    { schema: { params: workspaceParams, querystring: listQuery } },
    async (request) => listResources(deps.stores, request.params.ws, request.query),
  );
}
