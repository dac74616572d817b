/**
 * How a shared artifact is previewed and whether it may be downloaded, by its
 * stored content type (docs/shares.md#what-the-page-shows).
 *
 * Download is for the text-like types the seeds name — EDN, Markdown, CSV,
 * JSON, XML, JavaScript, form data and plain text — and nothing else: never
 * binary media, never HTML (or XHTML, or SVG, which is XML that a browser
 * runs as a document).
 */
export type ArtifactKind = 'markdown' | 'csv' | 'json' | 'edn' | 'xml' | 'text' | 'html' | 'image' | 'other';

/** Raster types an <img> shows and that carry no script. SVG is left out on purpose (it is shown as its XML text). */
export const PREVIEW_IMAGE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp']);

const HTML_TYPES = new Set(['text/html', 'application/xhtml+xml', 'image/svg+xml']);

export function essence(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

export function artifactKind(contentType: string): ArtifactKind {
  const type = essence(contentType);
  if (HTML_TYPES.has(type)) return type === 'image/svg+xml' ? 'xml' : 'html';
  if (PREVIEW_IMAGE_TYPES.has(type)) return 'image';
  if (type === 'text/markdown' || type === 'text/x-markdown') return 'markdown';
  if (type === 'text/csv') return 'csv';
  if (type === 'application/json' || type === 'text/json' || type.endsWith('+json')) return 'json';
  if (type === 'application/edn' || type === 'text/edn') return 'edn';
  if (type === 'application/xml' || type === 'text/xml' || type.endsWith('+xml')) return 'xml';
  if (type.startsWith('text/') || type === 'application/javascript' || type === 'application/x-www-form-urlencoded' || type === 'application/x-ndjson') return 'text';
  return 'other';
}

/** May the public download route serve this type (when the share allows downloads)? */
export function isDownloadable(contentType: string): boolean {
  const type = essence(contentType);
  if (HTML_TYPES.has(type)) return false;
  return (
    ['markdown', 'csv', 'json', 'edn', 'xml'].includes(artifactKind(type)) ||
    ['text/plain', 'text/javascript', 'application/javascript', 'application/x-www-form-urlencoded'].includes(type)
  );
}
