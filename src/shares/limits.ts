/**
 * Bounds of the public preview routes (docs/shares.md#bounds). A share link
 * needs no login, so every read it causes is bounded whatever the artifact's
 * size: the page reads at most PREVIEW_MAX_BYTES of text (and says so when it
 * stopped there), shows an image inline only up to PREVIEW_IMAGE_MAX_BYTES,
 * and the download serves artifacts up to DOWNLOAD_MAX_BYTES.
 */
export const PREVIEW_MAX_BYTES = 256 * 1024;
export const PREVIEW_IMAGE_MAX_BYTES = 2 * 1024 * 1024;
export const DOWNLOAD_MAX_BYTES = 16 * 1024 * 1024;
/** Rows and columns a CSV preview shows at most. */
export const CSV_MAX_ROWS = 1000;
export const CSV_MAX_COLUMNS = 100;
/**
 * Characters of Markdown rendered as Markdown; the rest of the preview is shown as plain text.
 * markdown-it takes ~0.4–1.7 s for 256 KiB on this project's machines, all of it on the one event loop.
 */
export const MARKDOWN_RENDER_MAX_CHARS = 32 * 1024;
