import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config/types.js';
import { deleteResource } from '../../resources/delete.js';
import { locate, type Located } from '../../resources/locate.js';
import { describeResource } from '../../resources/read.js';
import { signResource } from '../../resources/sign.js';
import type { StoreRegistry } from '../../storage/registry.js';
import type { LocalSigner } from '../../signing/local-signer.js';
import { grantOf, requireWorkspace } from '../auth.js';
import type { Metrics } from '../metrics.js';
import { sendObject, type SendDeps } from '../send-object.js';
import { signUrlBody, uriQuery } from '../schemas.js';
import { sandboxActiveContent } from '../stored-content.js';

export interface ResourceDeps {
  config: Config;
  stores: StoreRegistry;
  signer: LocalSigner;
  metrics: Metrics;
  /** The read limit and idle timeout every content read shares with signed reads. */
  send: SendDeps;
}

/** The resource routes; what each does lives in src/resources/. */
export function resourceRoutes(app: FastifyInstance, deps: ResourceDeps): void {
  const { stores } = deps;
  // The token's grant decides which workspaces a res:// URI may name.
  const located = (request: FastifyRequest, uri: string): Located => {
    const grant = grantOf(request);
    return locate(stores, uri, (ws) => requireWorkspace(grant, ws));
  };

  app.get<{ Querystring: { uri: string } }>('/v1/resources', { schema: { querystring: uriQuery } }, async (request) => describeResource(located(request, request.query.uri)));

  app.get<{ Querystring: { uri: string } }>('/v1/resources/content', { schema: { querystring: uriQuery }, onSend: sandboxActiveContent }, async (request, reply) => {
    return sendObject(deps.send, reply, located(request, request.query.uri), request.headers.range);
  });

  app.delete<{ Querystring: { uri: string } }>('/v1/resources', { schema: { querystring: uriQuery } }, async (request, reply) => {
    await deleteResource(located(request, request.query.uri));
    return reply.code(204).send();
  });

  app.post<{ Body: { uri: string; 'ttl-seconds'?: number; download?: boolean; filename?: string } }>(
    '/v1/resources/url',
    { schema: { body: signUrlBody } },
    async (request) => {
      const { body } = request;
      const target = located(request, body.uri);
      const signed = await signResource({ signing: deps.config.signing, signer: deps.signer }, target, {
        ...(body['ttl-seconds'] !== undefined ? { ttlSeconds: body['ttl-seconds'] } : {}),
        ...(body.download !== undefined ? { download: body.download } : {}),
        ...(body.filename !== undefined ? { filename: body.filename } : {}),
      });
      deps.metrics.signedUrls.inc({ store: target.loc.store });
      return { url: signed.url, 'expires-at': signed.expiresAt };
    },
  );
}
