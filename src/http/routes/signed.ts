import type { FastifyInstance } from 'fastify';
import { BlobgateError } from '../../errors.js';
import { SIGNED_PATH, type LocalSigner } from '../../signing/local-signer.js';
import type { StoreRegistry } from '../../storage/registry.js';
import { sendObject } from '../resource-access.js';

/**
 * URLs blobgate signed itself (local store). No API token: the signature is
 * the credential. Range is supported like the content route.
 */
export function signedRoutes(app: FastifyInstance, deps: { stores: StoreRegistry; signer: LocalSigner }): void {
  app.get<{ Querystring: Record<string, string> }>(`${SIGNED_PATH}/*`, async (request, reply) => {
    const rawPath = (request.raw.url ?? '').split('?')[0]!.slice(SIGNED_PATH.length + 1);
    let store: string;
    let keySegments: string[];
    try {
      [store = '', ...keySegments] = rawPath.split('/').map((s) => decodeURIComponent(s));
    } catch {
      throw new BlobgateError('signature_invalid', 'The signed URL is not valid.');
    }
    const key = keySegments.join('/');
    const q = request.query;
    const grant = {
      store,
      key,
      expires: Number(q.expires),
      download: q.download === '1',
      ...(q.filename !== undefined ? { filename: q.filename } : {}),
    };
    deps.signer.verify(grant, q.signature);
    if (!deps.stores.has(store) || !key.startsWith('workspaces/')) throw new BlobgateError('not_found', 'No resource at this URL.');
    return sendObject(reply, { loc: { workspace: key.split('/')[1] ?? '', store, key }, driver: deps.stores.get(store) }, request.headers.range, {
      download: grant.download,
      ...(grant.filename !== undefined ? { filename: grant.filename } : {}),
    });
  });
}
