import type { FastifyInstance } from 'fastify';
import { BlobgateError } from '../../errors.js';
import { runHttpStep, type StepBody, type StepDeps } from '../../step/run-step.js';
import type { Metrics } from '../metrics.js';
import type { TransferGate } from '../transfer-gate.js';
import { stepBodySchema, workspaceParams } from '../schemas.js';

export function stepRoutes(app: FastifyInstance, deps: StepDeps & { gate: TransferGate; metrics: Metrics }): void {
  app.post<{ Params: { ws: string }; Body: StepBody }>(
    '/v1/workspaces/:ws/http',
    { schema: { params: workspaceParams, body: stepBodySchema } },
    async (request, reply) => {
      const facts = request.facts;
      facts.step = `${request.body['flow-slug']}/${request.body['step-id']}`;
      const persist = request.body.persist;
      const tier = persist ? (persist.tier ?? 'retained') : undefined;
      // One AbortSignal for the whole transfer: a client that goes away aborts the upstream request and the write.
      const controller = new AbortController();
      const onClose = (): void => {
        if (!reply.raw.writableEnded) controller.abort(new BlobgateError('aborted', 'The client disconnected; the transfer was aborted and nothing was stored.'));
      };
      reply.raw.once('close', onClose);
      // client-opts.total-timeout bounds the whole transfer, time spent waiting for a slot included.
      const total = request.body.request['client-opts']?.['total-timeout'];
      const timer =
        total === undefined
          ? undefined
          : setTimeout(() => controller.abort(new BlobgateError('upstream_timeout', `The transfer did not finish within client-opts.total-timeout (${total} s); nothing was stored.`, { 'total-timeout': total })), total * 1000);
      try {
        const result = await deps.gate.run(controller, () => runHttpStep(deps, request.params.ws, request.body, controller.signal));
        const ref = 'blob-ref' in result ? result['blob-ref'] : undefined;
        Object.assign(facts, { outcome: 'ok', attempts: result.attempts, ...(ref ? { bytes: ref.size, store: ref.store, tier: ref.tier } : {}) });
        deps.metrics.recordTransfer('step', 'ok', ref ? { tier: ref.tier, store: ref.store, bytes: ref.size } : {});
        return result;
      } catch (err) {
        deps.metrics.recordTransfer('step', err instanceof BlobgateError ? err.code : 'internal', tier ? { tier } : {});
        throw err;
      } finally {
        if (timer) clearTimeout(timer);
        reply.raw.off('close', onClose);
      }
    },
  );
}
