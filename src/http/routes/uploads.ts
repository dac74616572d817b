import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PassThrough } from 'node:stream';
import { BlobgateError } from '../../errors.js';
import type { ResourceRef } from '../../refs/resource-ref.js';
import type { Tier } from '../../storage/driver.js';
import { owned } from '../../storage/stream-owner.js';
import { receiveMultipart } from '../../uploads/multipart.js';
import { storeUpload, UPLOAD_FIELDS, type UploadDeps as UploadFlowDeps, type UploadFields } from '../../uploads/store-upload.js';
import { grantOf, tenantOf } from '../auth.js';
import { abortWhenBodyIdle } from '../body-idle.js';
import { workspaceParams } from '../schemas.js';
import type { Metrics } from '../metrics.js';
import type { GateKey, TransferGate } from '../transfer-gate.js';
import type { JobEngine } from '../../jobs/engine.js';
import { idempotencyClaim } from '../../jobs/fingerprint.js';
import { isTerminal } from '../../jobs/job-record.js';
import { createHash } from 'node:crypto';

interface UploadDeps extends UploadFlowDeps {
  gate: TransferGate;
  metrics: Metrics;
  jobs: JobEngine;
}

/**
 * Uploads into the retained tier (the ephemeral one with tier=ephemeral, or a slot), streamed, never buffered:
 *   POST /v1/workspaces/:ws/uploads        multipart/form-data, one resource ref per file part
 *   PUT  /v1/workspaces/:ws/uploads/:name  the raw body as one file
 * The upload flow, with the all-or-nothing rollback of a multipart request,
 * lives in src/uploads/; these routes take the body, a transfer slot and the
 * client's disconnect, and count the outcome.
 */
export function uploadRoutes(app: FastifyInstance, deps: UploadDeps): void {
  void app.register(async (scope) => {
    // These routes read the raw request stream themselves.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null));

    scope.post<{ Params: { ws: string } }>('/v1/workspaces/:ws/uploads', { schema: { params: workspaceParams } }, async (request, reply) => {
      const type = request.headers['content-type'] ?? '';
      if (!/^multipart\/form-data\s*;/i.test(type)) {
        throw new BlobgateError('invalid_request', 'Send uploads as multipart/form-data (or PUT the raw bytes to /v1/workspaces/:ws/uploads/<filename>).');
      }
      const key = tenantOf(grantOf(request), request.params.ws);
      const upload = async (controller: AbortController, started?: () => void): Promise<{ items: ResourceRef[] }> => {
        abortOnDisconnect(request, reply, controller);
        abortWhenBodyIdle(request.raw, deps.config.server.uploadIdleTimeoutSeconds, controller);
        const progress = deps.metrics.uploadProgress(request.raw);
        const placed = placedInto(request, progress);
        const run = (): Promise<ResourceRef[]> => {
          started?.();
          return receiveMultipart(deps, { workspace: request.params.ws, headers: request.headers, body: request.raw, controller, placed });
        };
        return { items: await counted(deps, request, progress, () => deps.gate.run(controller, run, key)) };
      };
      const route = 'POST /v1/workspaces/:ws/uploads';
      // The body is the files themselves, not known before they are stored, and its boundary differs at each
      // try: for a multipart upload the key alone names the request (README "Jobs and idempotency").
      const claim = idempotencyClaim(request.headers['idempotency-key'], request.params.ws, route, { 'content-type': 'multipart/form-data' });
      if (!claim) return reply.code(201).send(await upload(new AbortController()));
      return idempotentUpload(deps, request, reply, key, claim, upload);
    });

    scope.put<{ Params: { ws: string; filename: string }; Querystring: UploadFields }>(
      '/v1/workspaces/:ws/uploads/:filename',
      {
        schema: {
          params: { ...workspaceParams, properties: { ...workspaceParams.properties, filename: { type: 'string', minLength: 1, maxLength: 255 } } },
          // Every field once, as a string (a repeated parameter arrives as an array and is refused).
          querystring: { type: 'object', additionalProperties: false, properties: Object.fromEntries(UPLOAD_FIELDS.map((f) => [f, { type: 'string', maxLength: 2048 }])) },
        },
      },
      async (request, reply) => {
        if (request.params.filename.includes('/')) {
          throw new BlobgateError('path_invalid', 'The upload filename is one path segment; put folders in the "path" query parameter.', { field: 'filename' });
        }
        const fields: UploadFields = { ...request.query, filename: request.params.filename };
        const headerType = request.headers['content-type'];
        if (headerType && !fields['content-type'] && headerType !== 'application/octet-stream') fields['content-type'] = headerType;
        const announced = request.headers['content-length'] !== undefined ? Number(request.headers['content-length']) : undefined;
        const key = tenantOf(grantOf(request), request.params.ws);
        const route = 'PUT /v1/workspaces/:ws/uploads/:filename';
        const claim = idempotencyClaim(request.headers['idempotency-key'], request.params.ws, route, { fields, 'content-length': request.headers['content-length'] ?? null });
        const upload = async (controller: AbortController, started?: () => void): Promise<ResourceRef> => {
          abortOnDisconnect(request, reply, controller);
          abortWhenBodyIdle(request.raw, deps.config.server.uploadIdleTimeoutSeconds, controller);
          return rawUpload(deps, request, controller, fields, announced, key, started);
        };
        if (!claim) return reply.code(201).send(await upload(new AbortController()));
        // The stored file's sha256 is the body's: a repeat's body is hashed as it is discarded and must match.
        return idempotentUpload(deps, request, reply, key, claim, upload, (ref) => ref['blob-ref'].sha256);
      },
    );
  });
}

/** The raw body of a PUT upload, stored as one file. */
async function rawUpload(deps: UploadDeps, request: FastifyRequest<{ Params: { ws: string; filename: string } }>, controller: AbortController, fields: UploadFields, announced: number | undefined, key: GateKey, started?: () => void): Promise<ResourceRef> {
        // A refusal must not destroy the request (and with it the socket) before the answer is sent: the
        // driver gets a pass-through it may destroy; the request is left for the error handler to close.
        // It is owned from birth: while the upload waits for a transfer slot, a client that leaves
        // mid-body errors the request, and that error reaches this stream before any store reads it.
        const body = owned(new PassThrough());
        request.raw.pipe(body);
        request.raw.once('error', (err) => body.destroy(err));
        try {
          const progress = deps.metrics.uploadProgress(request.raw);
          const file = { workspace: request.params.ws, fields, body, signal: controller.signal, placed: placedInto(request, progress), ...(announced !== undefined ? { announcedBytes: announced } : {}) };
          const run = (): Promise<ResourceRef> => {
            started?.();
            return storeUpload(deps, file);
          };
          const [ref] = await counted(deps, request, progress, async () => [await deps.gate.run(controller, run, key)]);
          return ref as ResourceRef;
        } finally {
          // A transfer that never started (refused, or given up while queued) leaves the body to us.
          // Unpiped first, so the error handler can still drain the rest of the request.
          request.raw.unpipe(body);
          if (!body.destroyed) body.destroy();
        }
}

/**
 * An upload with an Idempotency-Key (docs/jobs.md#idempotency): the first
 * request with the key stores its files as a job, and a repeat — which
 * carries the same files again — gets the first one's answer while its own
 * body is read and discarded. `bodySha256` says what the first body hashed
 * to when the route can tell (a raw PUT stores its body as it is): a repeat
 * whose body hashes otherwise is another request, `idempotency_key_reused`.
 * The upload's body comes from its request, so a client that leaves aborts
 * it as always, and its key may run again.
 */
async function idempotentUpload<T>(
  deps: UploadDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  key: GateKey,
  claim: NonNullable<ReturnType<typeof idempotencyClaim>>,
  upload: (controller: AbortController, started: () => void) => Promise<T>,
  bodySha256?: (answer: T) => string,
): Promise<FastifyReply> {
  const ws = (request.params as { ws: string }).ws;
  const { job, replayed } = await deps.jobs.submit({
    workspace: ws,
    kind: 'upload',
    // A full gate refuses a new upload now, not as a failed job; a replay stores nothing and is not refused.
    admit: () => deps.gate.refusal(key),
    idempotency: claim,
    restartable: (e) => e.code === 'aborted' || e.code === 'client_timeout',
    work: async (ctl) => ({ status: 201, body: await upload(ctl.controller, ctl.started) }),
  });
  reply.header('blobgate-job-id', job.id);
  let digest: Promise<string> | undefined;
  if (replayed) {
    reply.header('idempotent-replayed', 'true');
    digest = discard(request, repeatBodyLimit(deps, bodySha256 === undefined), deps.config.server.uploadIdleTimeoutSeconds);
    // Owned at once: a client that leaves while the first upload is still awaited must not become an unhandled rejection.
    digest.catch(() => undefined);
  }
  // The repeat's own body: its sha256, undefined when its client left, or the refusal of a body that outgrew
  // any upload or stalled — answered at once, not after the first upload ends.
  const seen = digest?.catch((err: unknown) => {
    if (err instanceof BlobgateError && (err.code === 'cap_exceeded' || err.code === 'client_timeout')) throw err;
    return undefined;
  });
  seen?.catch(() => undefined);
  const settled = deps.jobs.settle(ws, job.id, AbortSignal.any([]));
  // Owned at once: when the repeat's own body is refused first, nothing else awaits it.
  settled.catch(() => undefined);
  const final = seen ? await Promise.race([settled, seen.then(() => settled)]) : await settled;
  if (!final || !isTerminal(final.state)) throw new BlobgateError('aborted', 'The upload did not end; repeat it with the same Idempotency-Key.');
  if (final.state !== 'succeeded') {
    if (seen) await seen.catch(() => undefined);
    const e = final.error ?? { code: 'internal' as const, message: 'The upload failed without an error.' };
    throw new BlobgateError(e.code, e.message, { ...(e.details ?? {}), job: final.id });
  }
  if (seen && bodySha256 && (await seen) !== bodySha256(final.result as T)) {
    throw new BlobgateError('idempotency_key_reused', 'This Idempotency-Key was already used for an upload of other bytes; send a new key for a new upload.', { 'idempotency-key': claim.key, job: final.id });
  }
  return reply.code(final.status ?? 201).send(final.result);
}

/**
 * The most a repeat's body may hold: what the route itself would accept — one
 * file up to the largest tier cap, or for a multipart form every file and
 * field it allows (plus room for the parts' headers).
 */
function repeatBodyLimit(deps: UploadDeps, multipart: boolean): number {
  const { limits, tiers } = deps.config;
  const cap = Math.max(...Object.values(tiers).map((tier) => tier.capBytes));
  if (!multipart) return cap;
  return limits.uploadFiles * (cap + 64 * 1024) + limits.uploadFields * (limits.uploadFieldBytes + 64 * 1024);
}

/**
 * Reads a repeat's body to its end, keeping only its sha256. Bounded like a
 * first upload: more than `maxBytes` is refused as `cap_exceeded`, a body
 * that stops for the upload idle timeout as `client_timeout`; either way the
 * rest of the body is left unread for the error handler.
 */
function discard(request: FastifyRequest, maxBytes: number, idleSeconds: number): Promise<string> {
  const hash = createHash('sha256');
  const idle = new AbortController();
  abortWhenBodyIdle(request.raw, idleSeconds, idle);
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const stop = (err: unknown): void => {
      request.raw.off('data', onData);
      request.raw.pause();
      if (!idle.signal.aborted) idle.abort();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        stop(new BlobgateError('cap_exceeded', `This repeat of an upload carries more than ${maxBytes} bytes, more than any upload stores; send the same bytes as the first request.`, { 'max-bytes': maxBytes }));
        return;
      }
      hash.update(chunk);
    };
    request.raw.on('data', onData);
    request.raw.once('end', () => {
      if (!idle.signal.aborted) idle.abort();
      resolve(hash.digest('hex'));
    });
    request.raw.once('error', reject);
    idle.signal.addEventListener('abort', () => {
      if (idle.signal.reason instanceof BlobgateError) stop(idle.signal.reason);
    }, { once: true });
  });
}

/** Metrics and the request's log line for an upload of one or more files. */
async function counted(deps: UploadDeps, request: FastifyRequest, progress: { end(): void }, run: () => Promise<ResourceRef[]>): Promise<ResourceRef[]> {
  try {
    const refs = await run();
    for (const r of refs) deps.metrics.recordTransfer('upload', 'ok', { tier: r['blob-ref'].tier, store: r['blob-ref'].store, bytes: r['blob-ref'].size });
    Object.assign(request.facts, { outcome: 'ok', bytes: refs.reduce((n, r) => n + r['blob-ref'].size, 0) });
    return refs;
  } catch (err) {
    // The store is known once a file was placed; a refusal before that has none.
    const store = request.facts.store;
    // So is its tier; before that the default one names the refusal.
    deps.metrics.recordTransfer('upload', err instanceof BlobgateError ? err.code : 'internal', { tier: request.facts.tier ?? 'retained', ...(store ? { store } : {}) });
    throw err;
  } finally {
    progress.end();
  }
}

/** Keeps the store a file of this request is placed in on the request's facts (its log line, its metrics) and its progress. */
function placedInto(request: FastifyRequest, progress: { placed(store: string): void }): (store: string, tier: Tier) => void {
  return (store, tier) => {
    request.facts.store = store;
    request.facts.tier = tier;
    progress.placed(store);
  };
}

function abortOnDisconnect(request: FastifyRequest, reply: FastifyReply, controller = new AbortController()): AbortController {
  const onClose = (): void => {
    if (!reply.raw.writableEnded) controller.abort(new BlobgateError('aborted', 'The client disconnected during the upload; nothing was stored.'));
  };
  reply.raw.once('close', onClose);
  request.raw.once('aborted', onClose);
  return controller;
}
