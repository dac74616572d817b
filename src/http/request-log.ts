import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isBlobgateError } from '../errors.js';

/** The header a caller (or its proxy) names a request by; blobgate answers with it on every response. */
export const REQUEST_ID_HEADER = 'x-request-id';
/** Longest request id taken from a caller; a longer one is replaced, not cut (a cut id would match nothing upstream). */
export const REQUEST_ID_MAX = 128;
/** Visible ASCII, no space: safe in a header and in a log field, whatever the caller sent. */
const REQUEST_ID = new RegExp(`^[\\x21-\\x7e]{1,${REQUEST_ID_MAX}}$`);

/**
 * The request's id: the caller's X-Request-Id when it is one value of at
 * most REQUEST_ID_MAX visible ASCII characters (so a proxy's or runner's id
 * follows the request into this log), otherwise a new UUID.
 */
export function requestIdOf(req: IncomingMessage): string {
  let id = ids.get(req);
  if (id === undefined) {
    const given = req.headers[REQUEST_ID_HEADER];
    id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    ids.set(req, id);
  }
  return id;
}

/** One id per request, however often it is asked for (fastify, and the server-level listener below). */
const ids = new WeakMap<IncomingMessage, string>();

/** What a handler learned about a request, for its one log line. */
export interface RequestFacts {
  workspace?: string;
  step?: string;
  bytes?: number;
  store?: string;
  tier?: string;
  outcome?: string;
  attempts?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    facts: RequestFacts;
  }
}

/**
 * One log line per request (fastify's own two lines are off): request id,
 * method, route, status, workspace, step, outcome (ok or the error code),
 * bytes and duration. Never the query string (it may hold a signed URL's
 * signature) and never a header value but the request id.
 *
 * The request id (requestIdOf) is fastify's request id, so it is the
 * `reqId` of every line the request logs, and it goes back to the caller
 * in X-Request-Id on every answer, errors included.
 */
export function installRequestLog(app: FastifyInstance): void {
  app.setGenReqId(requestIdOf);
  app.decorateRequest('facts', null as unknown as RequestFacts);
  // Some answers never pass fastify's hooks: a routing error (frameworkErrors: a malformed
  // percent-encoding), and by fastify's code (lib/route.js) its 503 while closing. Those still get
  // the id, set on the response before fastify sees the request, and their line at the close, from
  // what the server knows.
  const hooked = new WeakSet<IncomingMessage>();
  app.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const id = requestIdOf(req);
    res.setHeader(REQUEST_ID_HEADER, id);
    const started = performance.now();
    res.once('close', () => {
      if (hooked.has(req)) return;
      const status = res.statusCode;
      app.log.info({ reqId: id, method: req.method, route: 'unknown', status, outcome: status < 400 ? 'ok' : 'error', durationMs: Math.round(performance.now() - started) }, 'request');
    });
  });
  // A client that leaves before its answer is written gets no onResponse: its
  // line is written once the handler's answer is on its way (onSend), with
  // the outcome the handler reached (`aborted`), or at the close if that came later.
  const logged = new WeakSet<FastifyRequest>();
  const answered = new WeakSet<FastifyRequest>();
  const gone = new WeakSet<FastifyRequest>();
  const once = (request: FastifyRequest, reply: FastifyReply): void => {
    if (logged.has(request)) return;
    logged.add(request);
    writeLine(request, reply);
  };
  app.addHook('onRequest', async (request, reply) => {
    hooked.add(request.raw);
    request.facts = {};
    reply.raw.once('close', () => {
      if (reply.raw.writableFinished) return; // onResponse writes the line
      gone.add(request);
      if (answered.has(request)) once(request, reply);
    });
  });
  app.addHook('onError', async (request, _reply, err) => {
    request.facts.outcome = isBlobgateError(err) ? err.code : (err as { validation?: unknown }).validation ? 'invalid_request' : 'internal';
  });
  app.addHook('onSend', async (request, reply, payload) => {
    answered.add(request);
    if (gone.has(request)) once(request, reply);
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => once(request, reply));
}

function writeLine(request: FastifyRequest, reply: FastifyReply): void {
  const f = request.facts;
  const ws = f.workspace ?? (request.params as { ws?: string } | undefined)?.ws;
  request.log.info(
    {
      // reqId comes from the request's child logger
      method: request.method,
      route: request.routeOptions.url ?? 'unknown',
      status: reply.statusCode,
      ...(ws ? { workspace: ws } : {}),
      ...(f.step ? { step: f.step } : {}),
      outcome: f.outcome ?? (reply.statusCode < 400 ? 'ok' : 'error'),
      ...(f.bytes !== undefined ? { bytes: f.bytes } : {}),
      ...(f.store ? { store: f.store } : {}),
      ...(f.tier ? { tier: f.tier } : {}),
      ...(f.attempts !== undefined ? { attempts: f.attempts } : {}),
      durationMs: Math.round(reply.elapsedTime),
    },
    'request',
  );
}

export function factsOf(request: FastifyRequest): RequestFacts {
  return request.facts;
}
