import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/types.js';
import { BlobgateError, isBlobgateError } from '../../errors.js';
import { headLive, locate, type Located } from '../../resources/locate.js';
import { isDownloadable } from '../../shares/artifact-kind.js';
import { PREVIEW_PATH } from '../../shares/create-share.js';
import { DOWNLOAD_MAX_BYTES } from '../../shares/limits.js';
import { PREVIEW_CSP, renderPreviewPage } from '../../shares/page.js';
import { loadPreview } from '../../shares/preview.js';
import { sharesIn, type ShareRecord } from '../../shares/share-store.js';
import type { StoreRegistry } from '../../storage/registry.js';
import { sendObject, type SendDeps } from '../send-object.js';
import { shareTokenParams } from '../schemas.js';

export interface PublicPreviewDeps {
  config: Config;
  stores: StoreRegistry;
  send: SendDeps;
}

/** One answer for an unknown, revoked or expired token and for a shared resource that is gone: nothing tells them apart. */
const NO_PREVIEW = 'This preview link does not exist, has expired or was revoked.';
const NO_DOWNLOAD = 'This preview link offers no download.';

/**
 * The no-login preview page and its download (docs/shares.md#the-public-routes).
 * Outside the API token check: the share token is the credential. Every
 * answer, errors too, is `no-store`, `noindex` and sends no referrer.
 */
export function publicPreviewRoutes(app: FastifyInstance, deps: PublicPreviewDeps): void {
  void app.register(async (scope) => {
    scope.addHook('onSend', async (_request, reply, payload) => {
      reply.header('cache-control', 'no-store');
      reply.header('x-robots-tag', 'noindex, nofollow');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-content-type-options', 'nosniff');
      reply.header('x-frame-options', 'DENY');
      // The content's hash is not the recipient's business, and the download serves no ranges.
      reply.removeHeader('etag');
      reply.removeHeader('accept-ranges');
      return payload;
    });

    const shared = async (token: string): Promise<{ share: ShareRecord; located: Located }> => {
      const share = await sharesIn(deps.stores, deps.config.tiers.retained.store).find(token);
      if (!share) throw new BlobgateError('not_found', NO_PREVIEW);
      try {
        return { share, located: locate(deps.stores, share.uri, () => undefined) };
      } catch (err) {
        throw asNoPreview(err);
      }
    };

    scope.get<{ Params: { token: string } }>(`${PREVIEW_PATH}/:token`, { schema: { params: shareTokenParams } }, async (request, reply) => {
      const { share, located } = await shared(request.params.token);
      const loaded = await loadPreview(located, deps.send.reads).catch((err: unknown) => {
        throw asNoPreview(err);
      });
      const page = renderPreviewPage({
        kind: loaded.kind,
        contentType: loaded.object.meta.contentType,
        truncated: loaded.truncated,
        ...(share.title !== undefined ? { title: share.title } : {}),
        ...(share.claimUrl !== undefined ? { claimUrl: share.claimUrl } : {}),
        ...(loaded.text !== undefined ? { text: loaded.text } : {}),
        ...(loaded.image !== undefined ? { image: loaded.image } : {}),
      });
      reply.header('content-security-policy', PREVIEW_CSP);
      return reply.type('text/html; charset=utf-8').send(page);
    });

    scope.get<{ Params: { token: string } }>(`${PREVIEW_PATH}/:token/download`, { schema: { params: shareTokenParams } }, async (request, reply) => {
      const { share, located } = await shared(request.params.token);
      if (!share.allowDownload) throw new BlobgateError('not_found', NO_DOWNLOAD);
      const object = await headLive(located).catch((err: unknown) => {
        throw asNoPreview(err);
      });
      // Checked on the stored object now, not when the share was made: the artifact may have been replaced since.
      if (!isDownloadable(object.meta.contentType) || object.meta.size > DOWNLOAD_MAX_BYTES) throw new BlobgateError('not_found', NO_DOWNLOAD);
      // Stored bytes from blobgate's origin: never rendered as a document, whatever they hold.
      reply.header('content-security-policy', 'sandbox');
      return sendObject(deps.send, reply, located, undefined, { download: true }).catch((err: unknown) => {
        throw asNoPreview(err);
      });
    });
  });
}

/** A shared resource that is absent or expired is the same 404 as an unknown token. */
function asNoPreview(err: unknown): unknown {
  return isBlobgateError(err, 'not_found') || isBlobgateError(err, 'gone') ? new BlobgateError('not_found', NO_PREVIEW) : err;
}
