/**
 * What a public preview never shows, even when the artifact's own text holds
 * it (docs/shares.md#what-the-page-never-shows): res:// references, blobgate's
 * private content and signed routes, and URLs signed by a storage backend
 * (S3 `X-Amz-*`, GCS `X-Goog-*` / `GoogleAccessId` query parameters). Each is
 * replaced by a short placeholder before the text is rendered; the download
 * serves the artifact's bytes unchanged.
 */
const RESOURCE_REF = /res:\/\/[^\s"'<>()[\]{}`]*/gi;
const URL_LIKE = /(?:https?:\/\/|\/\/)?[^\s"'<>()[\]{}`]*(?:\/(?:api|v1)\/resources\/content|\/v1\/signed\/|[?&](?:X-Amz-|X-Goog-|GoogleAccessId=))[^\s"'<>()[\]{}`]*/gi;

export const HIDDEN_REF = '[resource reference hidden]';
export const HIDDEN_URL = '[private link hidden]';

export function hidePrivate(text: string): string {
  return text.replace(RESOURCE_REF, HIDDEN_REF).replace(URL_LIKE, HIDDEN_URL);
}
