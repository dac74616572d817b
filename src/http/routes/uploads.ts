import busboy from 'busboy';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PassThrough, type Readable } from 'node:stream';
import type { Config } from '../../config/types.js';
import { BlobgateError } from '../../errors.js';
import { persistBody } from '../../persist/persist-body.js';
import { uploadPlacement, type SlotBinding } from '../../persist/placement.js';
import { parseSearchIndexField } from '../../persist/search-index.js';
import { toResourceRef, type ResourceRef } from '../../refs/resource-ref.js';
import type { SearchIndex } from '../../storage/driver.js';
import type { StoreRegistry } from '../../storage/registry.js';
import { owned } from '../../storage/stream-owner.js';
import { abortWhenBodyIdle } from '../body-idle.js';
import { workspaceParams } from '../schemas.js';
import type { Metrics } from '../metrics.js';
import type { TransferGate } from '../transfer-gate.js';

interface UploadDeps {
  config: Config;
  stores: StoreRegistry;
  gate: TransferGate;
  metrics: Metrics;
}

/** Form fields that shape the files that follow them in the form. */
const FIELDS = ['path', 'filename', 'slot', 'root', 'profile-id', 'prefix', 'connection', 'content-type', 'search-index'] as const;
type Field = (typeof FIELDS)[number];

/**
 * Uploads into the retained tier (or a slot), streamed, never buffered:
 *   POST /v1/workspaces/:ws/uploads        multipart/form-data, one resource ref per file part
 *   PUT  /v1/workspaces/:ws/uploads/:name  the raw body as one file
 * A multipart request is all or nothing: when any part fails (cap, malformed
 * body, limits, disconnect) the files it already stored are deleted.
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
      const items = await counted(deps, request, () => deps.gate.run(controller, () => receiveMultipart(deps, request, controller), request.params.ws));
      return reply.code(201).send({ items });
    });

    scope.put<{ Params: { ws: string; filename: string }; Querystring: Partial<Record<Field, string>> }>(
      '/v1/workspaces/:ws/uploads/:filename',
      {
        schema: {
          params: { ...workspaceParams, properties: { ...workspaceParams.properties, filename: { type: 'string', minLength: 1, maxLength: 255 } } },
          // Every field once, as a string (a repeated parameter arrives as an array and is refused).
          querystring: { type: 'object', additionalProperties: false, properties: Object.fromEntries(FIELDS.map((f) => [f, { type: 'string', maxLength: 2048 }])) },
        },
      },
      async (request, reply) => {
        if (request.params.filename.includes('/')) {
          throw new BlobgateError('path_invalid', 'The upload filename is one path segment; put folders in the "path" query parameter.', { field: 'filename' });
        }
        const fields: Partial<Record<Field, string>> = { ...request.query, filename: request.params.filename };
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
          const [ref] = await counted(deps, request, async () => [await deps.gate.run(controller, () => storeFile(deps, request.params.ws, fields, body, controller.signal, announced), request.params.ws)]);
          return reply.code(201).send(ref);
        } finally {
          // A transfer that never started (refused, or given up while queued) leaves the body to us.
          if (!body.destroyed) body.destroy();
        }
      },
    );
  });
}

/** Metrics and the request's log line for an upload of one or more files. */
async function counted(deps: UploadDeps, request: FastifyRequest, run: () => Promise<ResourceRef[]>): Promise<ResourceRef[]> {
  try {
    const refs = await run();
    for (const r of refs) deps.metrics.recordTransfer('upload', 'ok', { tier: r['blob-ref'].tier, store: r['blob-ref'].store, bytes: r['blob-ref'].size });
    Object.assign(request.facts, { outcome: 'ok', bytes: refs.reduce((n, r) => n + r['blob-ref'].size, 0) });
    return refs;
  } catch (err) {
    deps.metrics.recordTransfer('upload', err instanceof BlobgateError ? err.code : 'internal', { tier: 'retained' });
    throw err;
  }
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

async function storeFile(
  deps: UploadDeps,
  workspace: string,
  fields: Partial<Record<Field, string>>,
  body: Readable,
  signal: AbortSignal,
  announced?: number,
): Promise<ResourceRef> {
  const binding: SlotBinding = {
    ...(fields.root !== undefined ? { root: fields.root } : {}),
    ...(fields['profile-id'] !== undefined ? { profileId: fields['profile-id'] } : {}),
    ...(fields.prefix !== undefined ? { prefix: fields.prefix } : {}),
    ...(fields.connection !== undefined ? { connection: fields.connection } : {}),
  };
  let placement;
  let searchIndex: SearchIndex | undefined;
  try {
    placement = uploadPlacement(deps.config, {
      workspace,
      filename: fields.filename ?? '',
      ...(fields.path !== undefined ? { path: fields.path } : {}),
      ...(fields.slot !== undefined ? { slot: fields.slot, binding } : {}),
      ...(fields['content-type'] !== undefined ? { contentType: fields['content-type'] } : {}),
    });
    searchIndex = fields['search-index'] !== undefined ? parseSearchIndexField(fields['search-index']) : undefined;
  } catch (err) {
    body.resume(); // let the request finish so the error can be sent
    throw err;
  }
  const driver = deps.stores.get(placement.store);
  const stored = await persistBody({
    driver,
    key: placement.key,
    body,
    cap: deps.config.tiers.retained.capBytes,
    ...(announced !== undefined && Number.isSafeInteger(announced) ? { announcedBytes: announced } : {}),
    tier: 'retained',
    contentType: placement.contentType,
    ...(placement.storage ? { storage: placement.storage } : {}),
    ...(searchIndex ? { searchIndex } : {}),
    signal,
  });
  return toResourceRef(workspace, placement.store, driver, stored);
}

/** Parses the form with busboy and stores each file part as it streams by. */
async function receiveMultipart(deps: UploadDeps, request: FastifyRequest<{ Params: { ws: string } }>, controller: AbortController): Promise<ResourceRef[]> {
  const { limits } = deps.config;
  const cap = deps.config.tiers.retained.capBytes;
  const stored: ResourceRef[] = [];
  const writes: Array<Promise<void>> = [];
  const fields: Partial<Record<Field, string>> = {};
  let failure: unknown;
  let finishParsing = (): void => undefined;
  const fail = (err: unknown): void => {
    if (failure === undefined) failure = err;
    if (!controller.signal.aborted) controller.abort(err);
    // Stop parsing: busboy stalls on a file stream nobody reads, so it may never close by itself.
    finishParsing();
  };
  let bb: busboy.Busboy;
  try {
    // fileSize: one byte over the cap, so the meter sees the breach; busboy's truncation is never taken as a short file.
    // defParamCharset: browsers and curl send UTF-8 filenames (busboy's default would read them as latin1).
    bb = busboy({ headers: request.headers, defParamCharset: 'utf8', limits: { files: limits.uploadFiles, fields: limits.uploadFields, fieldSize: limits.uploadFieldBytes, fileSize: cap + 1 } });
  } catch (err) {
    throw new BlobgateError('invalid_request', 'The multipart/form-data header has no usable boundary.', undefined, { cause: err });
  }
  // A client that leaves between parts: no file stream fails, so the abort itself must end the parse.
  const onAbort = (): void => fail(controller.signal.reason);
  controller.signal.addEventListener('abort', onAbort, { once: true });
  const done = new Promise<void>((resolve) => {
    finishParsing = () => {
      request.raw.unpipe(bb);
      request.raw.resume();
      bb.removeAllListeners('file');
      resolve();
    };
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(new BlobgateError('invalid_request', `Form field "${name}" is longer than limits.upload-field-bytes (${limits.uploadFieldBytes}).`, { field: name }));
      if (!FIELDS.includes(name as Field)) return fail(new BlobgateError('invalid_request', `Unknown form field "${name}" (known: ${FIELDS.join(', ')}).`, { field: name }));
      fields[name as Field] = value;
    });
    bb.on('file', (_name, stream, info) => {
      // Owned from birth: busboy destroys a part with an error when the form breaks off, whether
      // a store is reading it yet or it is only being drained.
      owned(stream);
      if (failure !== undefined) return stream.resume();
      stream.once('limit', () => stream.destroy(new BlobgateError('cap_exceeded', `A file is larger than the retained write cap of ${cap} bytes.`, { 'max-bytes': cap })));
      const fileFields = { ...fields, filename: fields.filename ?? info.filename };
      if (!fileFields['content-type'] && info.mimeType && info.mimeType !== 'application/octet-stream') fileFields['content-type'] = info.mimeType;
      delete fields.filename; // a filename field names the next file only
      const index = writes.length;
      writes.push(
        storeFile(deps, request.params.ws, fileFields, stream, controller.signal).then(
          (ref) => void (stored[index] = ref),
          (err: unknown) => {
            stream.resume();
            fail(err);
          },
        ),
      );
    });
    bb.on('filesLimit', () => fail(new BlobgateError('invalid_request', `More than limits.upload-files (${limits.uploadFiles}) files in one upload.`)));
    bb.on('fieldsLimit', () => fail(new BlobgateError('invalid_request', `More than limits.upload-fields (${limits.uploadFields}) fields in one upload.`)));
    bb.on('partsLimit', () => fail(new BlobgateError('invalid_request', 'Too many parts in one upload.')));
    bb.on('error', (err) => {
      fail(controller.signal.aborted ? controller.signal.reason : new BlobgateError('invalid_request', 'The multipart/form-data body is malformed or was cut off.', undefined, { cause: err }));
      resolve();
    });
    bb.on('close', () => resolve());
  });
  request.raw.pipe(bb);
  await done;
  controller.signal.removeEventListener('abort', onAbort);
  await Promise.allSettled(writes);
  if (failure === undefined && writes.length === 0) failure = new BlobgateError('invalid_request', 'The upload holds no file part.');
  if (failure !== undefined) {
    // All or nothing: remove what this request already stored.
    await Promise.allSettled(stored.filter(Boolean).map((ref) => deps.stores.get(ref['blob-ref'].store).delete(ref['blob-ref'].path)));
    throw failure;
  }
  return stored;
}
