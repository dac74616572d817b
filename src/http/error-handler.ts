import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BlobgateError, isBlobgateError } from '../errors.js';

/**
 * Every error leaves as `{"error": {code, message, details}}` with the status
 * of its catalogue code. Fastify's own errors (validation, bad JSON, body too
 * large) are caller mistakes and become `invalid_request`, naming the field.
 * Unknown errors are logged in full and answered as `internal` without any
 * of their text.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    send(reply, new BlobgateError('not_found', `No route ${request.method} ${request.url.split('?')[0]}.`));
  });
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const mapped = toBlobgateError(err);
    if (mapped.code === 'internal' || mapped.code === 'storage_error') {
      request.log.error({ err }, 'request failed');
    } else {
      request.log.info({ code: mapped.code }, mapped.message);
    }
    send(reply, mapped);
  });
}

/**
 * Errors fastify raises while routing, before any route or error handler
 * runs (fastify's `frameworkErrors` option): a path with malformed
 * percent-encoding (`/v1/workspaces/%E0%A4%A/resources`) or a path
 * parameter longer than the router takes. Without this they leave in
 * fastify's own shape, not the catalogue's.
 */
export function frameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = routingError(err);
  if (mapped.code === 'internal') request.log.error({ err }, 'routing failed');
  else request.log.info({ code: mapped.code, fastify: err.code }, mapped.message);
  send(reply, mapped);
}

function routingError(err: FastifyError): BlobgateError {
  switch (err.code) {
    case 'FST_ERR_BAD_URL':
      return new BlobgateError('invalid_request', 'The request path holds a malformed percent-encoding (a % not followed by two hex digits, or bytes that are not UTF-8); encode the path with encodeURIComponent.', { field: 'path' });
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new BlobgateError('invalid_request', 'A segment of the request path is longer than the API accepts; check the workspace or job id.', { field: 'path' });
  }
  return toBlobgateError(err);
}

/** How long a refused request's remaining body is read and discarded before its socket is closed. */
const DRAIN_MS = 5_000;

function send(reply: FastifyReply, err: BlobgateError): void {
  // An upload refused before its body was read: discard the rest for a bounded time, so the client can
  // finish sending and read this answer (instead of an EPIPE), then close the connection.
  const raw = reply.request.raw;
  if (!raw.complete) {
    reply.header('connection', 'close');
    raw.resume();
    const timer = setTimeout(() => raw.socket?.destroy(), DRAIN_MS);
    timer.unref();
    raw.once('end', () => clearTimeout(timer));
  }
  if (err.code === 'range_not_satisfiable' && typeof err.details?.size === 'number') {
    reply.header('content-range', `bytes */${err.details.size}`);
  }
  if (err.code === 'overloaded') reply.header('retry-after', String(err.details?.['retry-after-seconds'] ?? 1));
  reply.code(err.status).type('application/json; charset=utf-8').send(err.toJSON());
}

export function toBlobgateError(err: unknown): BlobgateError {
  if (isBlobgateError(err)) return err;
  const e = err as FastifyError & { validationContext?: string };
  if (e.validation) {
    const first = e.validation[0];
    const where = e.validationContext === 'querystring' ? 'query' : e.validationContext === 'params' ? 'path' : 'body';
    const path = (first?.instancePath ?? '').split('/').filter(Boolean).join('.');
    const params = (first?.params ?? {}) as Record<string, unknown>;
    let field = path;
    let message: string;
    if (first?.keyword === 'additionalProperty' || first?.keyword === 'additionalProperties') {
      field = [path, String(params.additionalProperty)].filter(Boolean).join('.');
      message = `Unknown field "${field}" in the ${where}; remove it or check its spelling.`;
    } else if (first?.keyword === 'required') {
      field = [path, String(params.missingProperty)].filter(Boolean).join('.');
      message = `Field "${field}" is required in the ${where}.`;
    } else if (first?.keyword === 'enum') {
      message = `Field "${field}" must be one of: ${(params.allowedValues as unknown[] | undefined)?.join(', ')}.`;
    } else {
      message = `Field "${field || where}" ${first?.message ?? 'is invalid'}.`;
    }
    return new BlobgateError('invalid_request', message, { field: field || where });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new BlobgateError('invalid_request', 'The request body is not valid JSON.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BlobgateError('invalid_request', 'The request body is larger than the API accepts (limits.request-body-bytes).');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new BlobgateError('invalid_request', 'Send the request body as application/json.');
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new BlobgateError('invalid_request', 'The request is malformed.', undefined, { cause: err });
  }
  return new BlobgateError('internal', 'An unexpected error occurred inside blobgate; the server log has the details.', undefined, { cause: err });
}
