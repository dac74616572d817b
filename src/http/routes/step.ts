import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/types.js';
import { BlobgateError } from '../../errors.js';
import { runHttpStep, type StepDeps } from '../../step/run-step.js';
import { normalizeStep, type StepInput } from '../../step/seed-shape.js';
import type { TransferObserver } from '../../step/transfer-observer.js';
import type { Tier } from '../../storage/driver.js';
import { grantOf, tenantOf } from '../auth.js';
import type { Metrics } from '../metrics.js';
import type { TransferGate } from '../transfer-gate.js';
import { stepBodySchema, workspaceParams } from '../schemas.js';

export function stepRoutes(app: FastifyInstance, deps: StepDeps & { gate: TransferGate; metrics: Metrics }): void {
  app.post<{ Params: { ws: string }; Body: StepInput }>(
    '/v1/workspaces/:ws/http',
    { schema: { params: workspaceParams, body: stepBodySchema } },
    async (request, reply) => {
      const facts = request.facts;
      facts.step = `${request.body['flow-slug']}/${request.body['step-id']}`;
      // Either shape of the step (nested, or the seed's flat map) becomes the nested one, keywords resolved, before anything runs.
      const step = normalizeStep(deps.config, request.params.ws, request.body);
      const persist = step.persist;
      const tier = persist ? (persist.tier ?? 'retained') : undefined;
      // One AbortSignal for the whole transfer: a client that goes away aborts the upstream request and the write.
      const controller = new AbortController();
      const onClose = (): void => {
        if (!reply.raw.writableEnded) controller.abort(new BlobgateError('aborted', 'The client disconnected; the transfer was aborted and nothing was stored.'));
      };
      reply.raw.once('close', onClose);
      const timer = startDeadline(deps.config, tier ?? 'retained', step.request['client-opts']?.['total-timeout'], controller);
      try {
        const key = tenantOf(grantOf(request), request.params.ws);
        // The observer also notes the store the body streams into, so a failed transfer is counted against it.
        const observer: TransferObserver = {
          upstreamStarted: () => deps.metrics.upstreamStarted(),
          storeWriteStarted: (store) => {
            facts.store = store;
            return deps.metrics.storeWriteStarted(store);
          },
        };
        const result = await deps.gate.run(controller, () => runHttpStep({ ...deps, observer }, request.params.ws, step, controller.signal), key);
        const ref = 'blob-ref' in result ? result['blob-ref'] : undefined;
        Object.assign(facts, { outcome: 'ok', attempts: result.attempts, ...(ref ? { bytes: ref.size, store: ref.store, tier: ref.tier } : {}) });
        deps.metrics.recordTransfer('step', 'ok', ref ? { tier: ref.tier, store: ref.store, bytes: ref.size } : {});
        return result;
      } catch (err) {
        deps.metrics.recordTransfer('step', err instanceof BlobgateError ? err.code : 'internal', { ...(tier ? { tier } : {}), ...(facts.store ? { store: facts.store } : {}) });
        throw err;
      } finally {
        clearTimeout(timer);
        reply.raw.off('close', onClose);
      }
    },
  );
}

/**
 * Every step has a deadline for the whole transfer, time spent waiting for a
 * slot included, so an upstream that trickles cannot hold a slot for ever: the
 * tier's (limits.<tier>-total-timeout-seconds; a step without persist counts
 * as retained), or client-opts.total-timeout when that is sooner — a step may
 * shorten its deadline, never extend it.
 */
function startDeadline(config: Config, tier: Tier, asked: number | undefined, controller: AbortController): NodeJS.Timeout {
  const tierSeconds = config.limits.totalTimeoutSeconds[tier];
  const byStep = asked !== undefined && asked < tierSeconds;
  const seconds = byStep ? asked : tierSeconds;
  const message = byStep
    ? `The transfer did not finish within client-opts.total-timeout (${seconds} s); nothing was stored.`
    : `The transfer did not finish within the ${tier} tier's deadline of ${seconds} s (limits.${tier}-total-timeout-seconds); nothing was stored. client-opts.total-timeout can shorten this deadline, not extend it.`;
  return setTimeout(() => controller.abort(new BlobgateError('upstream_timeout', message, { 'total-timeout': seconds })), seconds * 1000);
}
