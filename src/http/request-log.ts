import type { FastifyInstance, FastifyRequest } from 'fastify';
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
  app.addHook('onRequest', async (request) => {
    request.facts = {};
  });
  app.addHook('onError', async (request, _reply, err) => {
    request.facts.outcome = isBlobgateError(err) ? err.code : (err as { validation?: unknown }).validation ? 'invalid_request' : 'internal';
  });
  app.addHook('onResponse', async (request, reply) => {
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
  });
}

export function factsOf(request: FastifyRequest): RequestFacts {
  return request.facts;
}
