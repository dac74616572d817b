import type { FastifyInstance } from 'fastify';
import { isBlobgateError } from '../../errors.js';
import { describeStoreError } from '../../storage/janitor.js';
import type { StoreRegistry } from '../../storage/registry.js';

type StoreState = 'ok' | 'unreachable' | 'bucket_missing';

/**
 * Liveness needs nothing; readiness pings every store (no backend text in the
 * answer): `ok`, `bucket_missing` (the bucket does not exist: blobgate never
 * creates one) or `unreachable` (anything else: network, credentials, …).
 */
export function healthRoutes(app: FastifyInstance, deps: { stores: StoreRegistry }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    const results: Record<string, StoreState> = {};
    await Promise.all(
      deps.stores.entries().map(async ([name, driver]) => {
        try {
          await driver.ping?.();
          results[name] = 'ok';
        } catch (err) {
          request.log.warn({ store: name, error: describeStoreError(err) }, 'store not ready');
          results[name] = isBlobgateError(err) && err.details?.reason === 'bucket_missing' ? 'bucket_missing' : 'unreachable';
        }
      }),
    );
    const ready = Object.values(results).every((r) => r === 'ok');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', stores: results });
  });
}
