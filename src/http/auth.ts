import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { TokenConfig } from '../config/types.js';
import { BlobgateError } from '../errors.js';

/** What a valid bearer token grants: a set of workspaces, or all of them. */
export interface Grant {
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
      grant: { all: t.workspaces.includes('*'), workspaces: new Set(t.workspaces) },
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
