import type { FastifyInstance } from 'fastify';
import { BlobgateError } from '../../errors.js';
import { SIGNED_PATH, type LocalSigner } from '../../signing/local-signer.js';
import type { StoreRegistry } from '../../storage/registry.js';
import { sendObject, type SendDeps } from '../send-object.js';
import { sandboxActiveContent } from '../stored-content.js';

/** The parameters a signed URL carries. */
const SIGNED_PARAMS = ['expires', 'download', 'filename', 'signature'] as const;

/**
 * URLs blobgate signed itself (local store). No API token: the signature is
 * the credential. Range is supported like the content route.
 */
export function signedRoutes(app: FastifyInstance, deps: { stores: StoreRegistry; signer: LocalSigner; send: SendDeps }): void {
  app.get<{ Querystring: Record<string, string | string[] | undefined> }>(`${SIGNED_PATH}/*`, { onSend: sandboxActiveContent }, async (request, reply) => {
    const rawPath = (request.raw.url ?? '').split('?')[0]!.slice(SIGNED_PATH.length + 1);
    let store: string;
    let keySegments: string[];
    try {
      [store = '', ...keySegments] = rawPath.split('/').map((s) => decodeURIComponent(s));
    } catch {
      throw new BlobgateError('signature_invalid', 'The signed URL is not valid.');
    }
    const key = keySegments.join('/');
    const q = singleValued(request.query);
    const grant = {
      store,
      key,
      expires: Number(q.expires),
      download: q.download === '1',
      ...(q.filename !== undefined ? { filename: q.filename } : {}),
    };
    deps.signer.verify(grant, q.signature);
    if (!deps.stores.has(store) || !key.startsWith('workspaces/')) throw new BlobgateError('not_found', 'No resource at this URL.');
    return sendObject(deps.send, reply, { loc: { workspace: key.split('/')[1] ?? '', store, key }, driver: deps.stores.get(store) }, request.headers.range, {
      download: grant.download,
      ...(grant.filename !== undefined ? { filename: grant.filename } : {}),
    });
  });
}

/**
 * A signed parameter given twice arrives as an array; it is refused here,
 * before the signature is checked and before any stored byte is opened.
 */
function singleValued(query: Record<string, string | string[] | undefined>): Partial<Record<(typeof SIGNED_PARAMS)[number], string>> {
  const out: Partial<Record<(typeof SIGNED_PARAMS)[number], string>> = {};
  for (const name of SIGNED_PARAMS) {
    const value = query[name];
    if (Array.isArray(value)) {
      throw new BlobgateError('invalid_request', `The signed URL repeats the "${name}" parameter; use the URL exactly as it was issued.`, { field: name });
    }
    if (value !== undefined) out[name] = value;
  }
  return out;
}
