import { createHash } from 'node:crypto';
import { essence, type ArtifactKind } from './artifact-kind.js';
import { hidePrivate } from './hide-private.js';
import { MARKDOWN_RENDER_MAX_CHARS, PREVIEW_IMAGE_MAX_BYTES, PREVIEW_MAX_BYTES } from './limits.js';
import { prettyEdn, prettyJson, prettyXml } from './render-data.js';
import { escapeHtml, renderCsv, renderMarkdown } from './render-text.js';

/** What the page is made of: the share's own words and the artifact's content, nothing else (docs/shares.md#what-the-page-shows). */
export interface PreviewInput {
  title?: string;
  claimUrl?: string;
  kind: ArtifactKind;
  contentType: string;
  /** The artifact's text (at most PREVIEW_MAX_BYTES of it), for the text kinds. */
  text?: string;
  /** The image's bytes, when it is within PREVIEW_IMAGE_MAX_BYTES. */
  image?: Buffer;
  /** The text stopped at the bound. */
  truncated: boolean;
}

const CSS = [
  'body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1d1d1f;background:#f6f6f4}',
  'main{max-width:60rem;margin:0 auto;padding:1.5rem}',
  'header .share-title{font-size:.9rem;color:#555;margin:0 0 1rem}',
  'article{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1.25rem 1.5rem;overflow-wrap:anywhere}',
  'pre{white-space:pre-wrap;font:13px/1.45 ui-monospace,monospace;margin:0}',
  'table{border-collapse:collapse;font-size:.9rem}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:#f0f0ee}',
  '.table{overflow-x:auto}img{max-width:100%;height:auto}.image-alt{font-style:italic;color:#555}',
  '.note{color:#555;font-size:.9rem}.cta{display:inline-block;margin-top:1.25rem;padding:.6rem 1rem;background:#1d4ed8;color:#fff;border-radius:6px;text-decoration:none}',
].join('');

/**
 * The page's CSP: nothing may load or run but its own stylesheet (by hash)
 * and inline data: images. No script at all, no frames, no forms, no base
 * rewriting, and no framing of the page by another site.
 */
export const PREVIEW_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(CSS, 'utf8').digest('base64')}'`,
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The HTML of the preview page. */
export function renderPreviewPage(input: PreviewInput): string {
  const title = input.title !== undefined ? hidePrivate(input.title) : 'Shared artifact';
  const body = renderContent(input);
  const cut = input.truncated && input.kind !== 'image' ? `<p class="note">Only the first ${PREVIEW_MAX_BYTES / 1024} KiB of this file are shown here.</p>` : '';
  const cta = input.claimUrl !== undefined ? `<p><a class="cta" href="${escapeHtml(input.claimUrl)}" rel="nofollow">Claim this</a></p>` : '';
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    '<meta name="robots" content="noindex,nofollow"><meta name="referrer" content="no-referrer">',
    `<title>${escapeHtml(title)}</title><style>${CSS}</style></head>`,
    `<body><main><header><p class="share-title">${escapeHtml(title)}</p></header>`,
    `<article class="artifact artifact-${input.kind}">${body}</article>${cut}${cta}</main></body></html>`,
  ].join('');
}

function renderContent(input: PreviewInput): string {
  if (input.kind === 'image') {
    if (!input.image) return `<p class="note">This image is larger than ${PREVIEW_IMAGE_MAX_BYTES / (1024 * 1024)} MiB and is not shown here.</p>`;
    return `<img alt="" src="data:${essence(input.contentType)};base64,${input.image.toString('base64')}">`;
  }
  if (input.text === undefined) return '<p class="note">This kind of file cannot be previewed here.</p>';
  const text = hidePrivate(input.text);
  switch (input.kind) {
    case 'markdown':
      // Rendering runs on the event loop every tenant shares, and a page needs no login: past
      // MARKDOWN_RENDER_MAX_CHARS the rest is shown as plain text (docs/shares.md#bounds).
      if (text.length <= MARKDOWN_RENDER_MAX_CHARS) return renderMarkdown(text);
      return `${renderMarkdown(text.slice(0, MARKDOWN_RENDER_MAX_CHARS))}${pre(text.slice(MARKDOWN_RENDER_MAX_CHARS))}`;
    case 'csv':
      return renderCsv(text, input.truncated).html;
    case 'json':
      return pre(pretty(input, text, prettyJson));
    case 'edn':
      return pre(pretty(input, text, prettyEdn));
    case 'xml':
      return pre(pretty(input, text, prettyXml));
    default:
      // Plain text, and HTML, which is shown as its source and never rendered.
      return pre(text);
  }
}

/**
 * Indenting deep nesting can multiply the text (every line of a value 60
 * levels down carries 120 spaces): past PRETTY_MAX_CHARS the text is shown as
 * written, so the page stays within a small multiple of the bytes read.
 */
const PRETTY_MAX_CHARS = 2 * PREVIEW_MAX_BYTES;

function pretty(input: PreviewInput, text: string, format: (text: string) => string | undefined): string {
  const formatted = input.truncated ? undefined : format(text);
  return formatted !== undefined && formatted.length <= PRETTY_MAX_CHARS ? formatted : text;
}

function pre(text: string): string {
  return `<pre>${escapeHtml(text)}</pre>`;
}
