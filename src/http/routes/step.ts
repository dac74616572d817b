import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config/types.js';
import { BlobgateError } from '../../errors.js';
import { checkCallback, type CallbackSpec } from '../../jobs/callback.js';
import type { JobControl, JobEngine } from '../../jobs/engine.js';
import { idempotencyClaim, prefersAsync } from '../../jobs/fingerprint.js';
import { isTerminal, publicJob } from '../../jobs/job-record.js';
import { runHttpStep, type StepBody, type StepDeps } from '../../step/run-step.js';
import { normalizeStep, type StepInput } from '../../step/seed-shape.js';
import type { TransferObserver } from '../../step/transfer-observer.js';
import type { Tier } from '../../storage/driver.js';
import { grantOf, tenantOf } from '../auth.js';
import type { Metrics } from '../metrics.js';
import type { GateKey, TransferGate } from '../transfer-gate.js';
import { stepBodySchema, workspaceParams } from '../schemas.js';

export interface StepRouteDeps extends StepDeps {
  gate: TransferGate;
  metrics: Metrics;
  jobs: JobEngine;
}

/**
 * POST /v1/workspaces/:ws/http. Synchronous by default, as it always was;
 * with `Prefer: respond-async` the step becomes a job (202 + Location) and
 * with an `Idempotency-Key` a repeat finds the first one's job instead of
 * running again (docs/jobs.md). A synchronous step with a key runs as a job
 * too, so a client that goes away does not abort it: its retry with the same
 * key waits for the same transfer and gets its answer.
 */
export function stepRoutes(app: FastifyInstance, deps: StepRouteDeps): void {
  app.post<{ Params: { ws: string }; Body: StepInput }>(
    '/v1/workspaces/:ws/http',
    { schema: { params: workspaceParams, body: stepBodySchema } },
    async (request, reply) => {
      const facts = request.facts;
      const ws = request.params.ws;
      facts.step = `${request.body['flow-slug']}/${request.body['step-id']}`;
      const idempotency = idempotencyClaim(request.headers['idempotency-key'], ws, 'POST /v1/workspaces/:ws/http', request.body);
      const async = prefersAsync(request.headers.prefer);
      // Either shape of the step (nested, or the seed's flat map) becomes the nested one, keywords resolved, before anything runs.
      const step = normalizeStep(deps.config, ws, request.body);
      const key = tenantOf(grantOf(request), ws);

      const callback = (request.body as { callback?: CallbackSpec }).callback;
      if (callback) {
        if (!async) throw new BlobgateError('invalid_request', 'callback needs Prefer: respond-async: a synchronous step answers with its result itself.', { field: 'callback' });
        await checkCallback(callback, ws, deps.guard, deps.secrets);
      }

      if (!async && !idempotency) {
        // One AbortSignal for the whole transfer: a client that goes away aborts the upstream request and the write.
        const controller = new AbortController();
        const onClose = (): void => {
          if (!reply.raw.writableEnded) controller.abort(new BlobgateError('aborted', 'The client disconnected; the transfer was aborted and nothing was stored.'));
        };
        reply.raw.once('close', onClose);
        try {
          return await runStep(deps, request, step, key, controller);
        } finally {
          reply.raw.off('close', onClose);
        }
      }

      const { job, replayed } = await deps.jobs.submit({
        workspace: ws,
        kind: 'step',
        // A full gate is refused now, to the caller, rather than recorded as a job that failed; a replay runs nothing and is not refused.
        admit: () => deps.gate.refusal(key),
        ...(idempotency ? { idempotency } : {}),
        ...(callback ? { callback } : {}),
        work: async (ctl) => {
          const result = await runStep(deps, request, step, key, ctl.controller, ctl);
          return { status: 200, body: result, attempts: result.attempts };
        },
      });
      if (replayed) reply.header('idempotent-replayed', 'true');
      reply.header('blobgate-job-id', job.id);
      if (async) {
        facts.outcome = replayed ? 'replayed' : 'accepted';
        return reply
          .code(202)
          .header('preference-applied', 'respond-async')
          .header('location', `/v1/workspaces/${ws}/jobs/${job.id}`)
          .send(publicJob(job));
      }
      // Synchronous with a key: wait for the job, wherever it runs, and answer as the plain call would.
      const gone = new AbortController();
      const onClose = (): void => {
        if (!reply.raw.writableEnded) gone.abort();
      };
      reply.raw.once('close', onClose);
      try {
        const final = await deps.jobs.settle(ws, job.id, gone.signal);
        if (!final || !isTerminal(final.state)) throw new BlobgateError('aborted', 'The client went away before the job ended; it runs on. Repeat the request with the same Idempotency-Key for its answer.');
        if (final.state === 'succeeded') return reply.code(final.status ?? 200).send(final.result);
        const e = final.error ?? { code: 'internal' as const, message: 'The job failed without an error.' };
        throw new BlobgateError(e.code, e.message, { ...(e.details ?? {}), job: final.id });
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  );
}

/**
 * One step's transfer: its deadline, its fair slot, its metrics and log
 * facts. `job`, when the step runs as a job, is told when the slot was
 * given and how many bytes moved.
 */
async function runStep(deps: StepRouteDeps, request: FastifyRequest, step: StepBody, key: GateKey, controller: AbortController, job?: JobControl): Promise<StepResult> {
  const facts = request.facts;
  const ws = (request.params as { ws: string }).ws;
  const persist = step.persist;
  const tier = persist ? (persist.tier ?? 'retained') : undefined;
  const timer = startDeadline(deps.config, tier ?? 'retained', step.request['client-opts']?.['total-timeout'], controller);
  try {
    // The observer also notes the store the body streams into, so a failed transfer is counted against it.
    const metered = deps.metrics.transferObserver('step', (store) => void (facts.store = store));
    const observer: TransferObserver = job
      ? {
          upstreamStarted: () => metered.upstreamStarted(),
          storeWriteStarted: (store) => {
            job.rewind();
            return metered.storeWriteStarted(store);
          },
          bytesMoved: (n) => {
            metered.bytesMoved?.(n);
            job.moved(n);
          },
          sizeAnnounced: (bytes) => job.total(bytes),
        }
      : metered;
    const result = await deps.gate.run(
      controller,
      () => {
        job?.started();
        return runHttpStep({ ...deps, observer }, ws, step, controller.signal);
      },
      key,
    );
    const ref = 'blob-ref' in result ? result['blob-ref'] : undefined;
    Object.assign(facts, { outcome: 'ok', attempts: result.attempts, ...(ref ? { bytes: ref.size, store: ref.store, tier: ref.tier } : {}) });
    deps.metrics.recordTransfer('step', 'ok', ref ? { tier: ref.tier, store: ref.store, bytes: ref.size } : {});
    return result;
  } catch (err) {
    deps.metrics.recordTransfer('step', err instanceof BlobgateError ? err.code : 'internal', { ...(tier ? { tier } : {}), ...(facts.store ? { store: facts.store } : {}) });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

type StepResult = Awaited<ReturnType<typeof runHttpStep>>;

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
