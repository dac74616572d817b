import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/types.js';
import { BlobgateError } from '../../errors.js';
import { toResourceRef } from '../../refs/resource-ref.js';
import type { StoreRegistry } from '../../storage/registry.js';
import type { LocalSigner } from '../../signing/local-signer.js';
import { grantOf } from '../auth.js';
import type { Metrics } from '../metrics.js';
import { headLive, locate, sendObject } from '../resource-access.js';
import { signUrlBody, uriQuery } from '../schemas.js';
import { sandboxActiveContent } from '../stored-content.js';

export interface ResourceDeps {
  config: Config;
  stores: StoreRegistry;
  signer: LocalSigner;
  metrics: Metrics;
}

export function resourceRoutes(app: FastifyInstance, deps: ResourceDeps): void {
  const { stores } = deps;

  app.get<{ Querystring: { uri: string } }>('/v1/resources', { schema: { querystring: uriQuery } }, async (request) => {
    const located = locate(stores, request.query.uri, grantOf(request));
    const obj = await headLive(located);
    return toResourceRef(located.loc.workspace, located.loc.store, located.driver, obj);
  });

  app.get<{ Querystring: { uri: string } }>('/v1/resources/content', { schema: { querystring: uriQuery }, onSend: sandboxActiveContent }, async (request, reply) => {
    const located = locate(stores, request.query.uri, grantOf(request));
    return sendObject(reply, located, request.headers.range);
  });

  app.delete<{ Querystring: { uri: string } }>('/v1/resources', { schema: { querystring: uriQuery } }, async (request, reply) => {
    const located = locate(stores, request.query.uri, grantOf(request));
    await located.driver.delete(located.loc.key);
    return reply.code(204).send();
  });

  app.post<{ Body: { uri: string; 'ttl-seconds'?: number; download?: boolean; filename?: string } }>(
    '/v1/resources/url',
    { schema: { body: signUrlBody } },
    async (request) => {
      const { signing } = deps.config;
      const located = locate(stores, request.body.uri, grantOf(request));
      const ttl = request.body['ttl-seconds'] ?? signing.defaultTtlSeconds;
      if (ttl < signing.minTtlSeconds || ttl > signing.maxTtlSeconds) {
        throw new BlobgateError('invalid_request', `ttl-seconds must be from ${signing.minTtlSeconds} to ${signing.maxTtlSeconds}; got ${ttl}.`, { field: 'ttl-seconds' });
      }
      const filename = request.body.filename;
      if (filename !== undefined && /[\u0000-\u001f\u007f/\\]/.test(filename)) {
        throw new BlobgateError('invalid_request', 'filename may not contain "/", "\\" or control characters.', { field: 'filename' });
      }
      const obj = await headLive(located);
      // A URL never outlives the blob it points at.
      let expiresMs = Date.now() + ttl * 1000;
      if (obj.meta.expiresAt) expiresMs = Math.min(expiresMs, Date.parse(obj.meta.expiresAt));
      const expiresInSeconds = Math.max(1, Math.floor((expiresMs - Date.now()) / 1000));
      const download = request.body.download ?? false;
      const url = located.driver.signUrl
        ? await located.driver.signUrl({ key: located.loc.key, expiresInSeconds, download, ...(filename ? { filename } : {}) })
        : deps.signer.sign({
            store: located.loc.store,
            key: located.loc.key,
            expires: Math.floor(Date.now() / 1000) + expiresInSeconds,
            download,
            ...(filename ? { filename } : {}),
          });
      deps.metrics.signedUrls.inc({ store: located.loc.store });
      return { url, 'expires-at': new Date(Date.now() + expiresInSeconds * 1000).toISOString() };
    },
  );
}
