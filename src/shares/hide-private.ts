/**
 * What a public preview never shows, even when the artifact's own text holds
 * it (docs/shares.md#what-the-page-never-shows): res:// references, blobgate's
 * private content and signed routes, and URLs signed by a storage backend
 * (S3 `X-Amz-*`, GCS `X-Goog-*` / `GoogleAccessId` query parameters). Each is
 * replaced by a short placeholder before the text is rendered; the download
 * serves the artifact's bytes unchanged.
 */
export const HIDDEN_REF = '[resource reference hidden]';
export const HIDDEN_URL = '[private link hidden]';

/** A run of characters that can belong to one URL; the text is cut into these once, so the checks below stay linear. */
const RUN = /[^\s"'<>()[\]{}`]+/g;
const RESOURCE_REF = /res:\/\/.*/i;
const PRIVATE_URL = /\/(?:api|v1)\/resources\/content|\/v1\/signed\/|[?&](?:x-amz-|x-goog-|googleaccessid=)/i;

export function hidePrivate(text: string): string {
  // One pattern over the whole text with a URL-shaped prefix would backtrack quadratically on a long run
  // without spaces (a public page must not be that slow to build); each run is looked at on its own instead.
  return text.replace(RUN, (run) => {
    if (PRIVATE_URL.test(run)) return HIDDEN_URL;
    return RESOURCE_REF.test(run) ? run.replace(RESOURCE_REF, HIDDEN_REF) : run;
  });
}
