import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TokenConfig } from '../config/types.js';
import { BlobgateError } from '../errors.js';
import type { GateKey } from './transfer-gate.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** What the request's token grants; set by the token check before the body is read. */
    grant: Grant | null;
  }
}

/** What a valid bearer token grants: a set of workspaces, or all of them. */
export interface Grant {
  /** The token's stable identity (its sha256 digest, never the token): whose fair share a transfer counts against. */
  id: string;
  all: boolean;
  workspaces: ReadonlySet<string>;
}

/**
 * Bearer API tokens scoped to workspaces. Tokens are kept as sha256 digests
 * and compared in constant time; every configured token is compared, so the
 * time taken does not tell which one (or whether any) was close.
 */
export class TokenAuth {
  private readonly tokens: Array<{ digest: Buffer; grant: Grant }>;

  constructor(tokens: readonly TokenConfig[]) {
    this.tokens = tokens.map((t) => ({
      digest: Buffer.from(t.sha256, 'hex'),
      grant: { id: t.sha256, all: t.workspaces.includes('*'), workspaces: new Set(t.workspaces) },
    }));
  }

  authenticate(request: FastifyRequest): Grant {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new BlobgateError('unauthorized', 'Send the API token as "Authorization: Bearer <token>".');
    const presented = createHash('sha256').update(match[1]!, 'utf8').digest();
    let found: Grant | undefined;
    for (const t of this.tokens) {
      if (timingSafeEqual(t.digest, presented) && found === undefined) found = t.grant;
    }
    if (!found) throw new BlobgateError('unauthorized', 'The API token is not valid.');
    return found;
  }
}

export function requireWorkspace(grant: Grant, workspace: string): void {
  if (!grant.all && !grant.workspaces.has(workspace)) {
    throw new BlobgateError('forbidden', `The API token is not granted workspace "${workspace}".`, { workspace });
  }
}

/**
 * The tenant a transfer in `workspace` counts against (src/http/transfer-gate.ts):
 * the token, over all the workspaces it grants, so a token granted several
 * workspaces gets one token's share, not one per workspace. A token granted
 * every workspace is the platform's runner acting for each of them: its
 * tenant is the token in that workspace, so the workspaces stay apart.
 */
export function tenantOf(grant: Grant, workspace: string): GateKey {
  return { tenant: grant.all ? `${grant.id}/${workspace}` : grant.id, workspace };
}

/**
 * Puts every route of `scope` behind the token, checked in an onRequest hook:
 * before any body byte is read or parsed, so a caller without a valid token
 * gets 401 (and a token not granted the `:ws` of the path 403) without making
 * the server read its body, and never learns the body schema. Routes that name
 * a workspace in a res:// URI check it after parsing, with `grantOf`.
 */
export function requireTokenFor(scope: FastifyInstance, auth: TokenAuth): void {
  scope.decorateRequest('grant', null);
  scope.addHook('onRequest', async (request) => {
    const grant = auth.authenticate(request);
    const ws = (request.params as { ws?: unknown } | undefined)?.ws;
    if (typeof ws === 'string') requireWorkspace(grant, ws);
    request.grant = grant;
  });
}

/** The grant the onRequest hook of `requireTokenFor` found; a route outside that scope has none. */
export function grantOf(request: FastifyRequest): Grant {
  if (!request.grant) throw new BlobgateError('internal', 'This route is not behind the API token check.');
  return request.grant;
}
