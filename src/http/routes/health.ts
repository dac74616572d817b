import type { FastifyInstance } from 'fastify';
import type { StoreRegistry } from '../../storage/registry.js';

/** Liveness needs nothing; readiness pings every store (no backend text in the answer). */
export function healthRoutes(app: FastifyInstance, deps: { stores: StoreRegistry }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    const results: Record<string, 'ok' | 'unreachable'> = {};
    await Promise.all(
      deps.stores.entries().map(async ([name, driver]) => {
        try {
          await driver.ping?.();
          results[name] = 'ok';
        } catch (err) {
          request.log.warn({ err, store: name }, 'store not ready');
          results[name] = 'unreachable';
        }
      }),
    );
    const ready = Object.values(results).every((r) => r === 'ok');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', stores: results });
  });
}
