import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PassThrough } from 'node:stream';
import { BlobgateError } from '../../errors.js';
import type { ResourceRef } from '../../refs/resource-ref.js';
import { owned } from '../../storage/stream-owner.js';
import { receiveMultipart } from '../../uploads/multipart.js';
import { storeUpload, UPLOAD_FIELDS, type UploadDeps as UploadFlowDeps, type UploadFields } from '../../uploads/store-upload.js';
import { grantOf, tenantOf } from '../auth.js';
import { abortWhenBodyIdle } from '../body-idle.js';
import { workspaceParams } from '../schemas.js';
import type { Metrics } from '../metrics.js';
import type { TransferGate } from '../transfer-gate.js';

interface UploadDeps extends UploadFlowDeps {
  gate: TransferGate;
  metrics: Metrics;
}

/**
 * Uploads into the retained tier (or a slot), streamed, never buffered:
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
      const controller = abortOnDisconnect(request, reply);
      abortWhenBodyIdle(request.raw, deps.config.server.uploadIdleTimeoutSeconds, controller);
      const key = tenantOf(grantOf(request), request.params.ws);
      const progress = deps.metrics.uploadProgress(request.raw);
      const placed = placedInto(request, progress);
      const items = await counted(deps, request, progress, () => deps.gate.run(controller, () => receiveMultipart(deps, { workspace: request.params.ws, headers: request.headers, body: request.raw, controller, placed }), key));
      return reply.code(201).send({ items });
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
        const controller = abortOnDisconnect(request, reply);
        abortWhenBodyIdle(request.raw, deps.config.server.uploadIdleTimeoutSeconds, controller);
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
          const key = tenantOf(grantOf(request), request.params.ws);
          const [ref] = await counted(deps, request, progress, async () => [await deps.gate.run(controller, () => storeUpload(deps, file), key)]);
          return reply.code(201).send(ref);
        } finally {
          // A transfer that never started (refused, or given up while queued) leaves the body to us.
          // Unpiped first, so the error handler can still drain the rest of the request.
          request.raw.unpipe(body);
          if (!body.destroyed) body.destroy();
        }
      },
    );
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
    deps.metrics.recordTransfer('upload', err instanceof BlobgateError ? err.code : 'internal', { tier: 'retained', ...(store ? { store } : {}) });
    throw err;
  } finally {
    progress.end();
  }
}

/** Keeps the store a file of this request is placed in on the request's facts (its log line, its metrics) and its progress. */
function placedInto(request: FastifyRequest, progress: { placed(store: string): void }): (store: string) => void {
  return (store) => {
    request.facts.store = store;
    progress.placed(store);
  };
}

function abortOnDisconnect(request: FastifyRequest, reply: FastifyReply): AbortController {
  const controller = new AbortController();
  const onClose = (): void => {
    if (!reply.raw.writableEnded) controller.abort(new BlobgateError('aborted', 'The client disconnected during the upload; nothing was stored.'));
  };
  reply.raw.once('close', onClose);
  request.raw.once('aborted', onClose);
  return controller;
}
