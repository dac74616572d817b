import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isBlobgateError } from '../errors.js';

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
 * signature) and never a header value.
 */
export function installRequestLog(app: FastifyInstance): void {
  app.decorateRequest('facts', null as unknown as RequestFacts);
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
