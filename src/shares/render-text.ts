import MarkdownIt from 'markdown-it';
import { readCsv } from './csv.js';
import { CSV_MAX_COLUMNS, CSV_MAX_ROWS } from './limits.js';

/**
 * Markdown and CSV as HTML fragments for the preview page.
 *
 * Markdown: markdown-it with raw HTML off, so every tag in the source is
 * escaped text and the renderer is its own sanitizer; links only to http(s),
 * mailto and relative targets (no javascript:, data: …); images become their
 * alt text, because a public preview fetches nothing (the page's CSP allows
 * no remote image either); the platform's unresolved `breyta-resource`
 * fences are left out.
 */
const md = new MarkdownIt({ html: false, linkify: false, typographer: false });

const SAFE_SCHEMES = new Set(['http', 'https', 'mailto']);
md.validateLink = (url: string): boolean => {
  // markdown-it hands the normalised target; a scheme hidden by spaces or entities is already spelt out.
  const scheme = /^([a-z][a-z0-9+.-]*):/.exec(url.trim().toLowerCase());
  return scheme === null || SAFE_SCHEMES.has(scheme[1]!);
};
md.renderer.rules.image = (tokens, idx, options, env, self) => {
  const alt = self.renderInlineAsText(tokens[idx]!.children ?? [], options, env);
  return alt === '' ? '' : `<span class="image-alt">${md.utils.escapeHtml(alt)}</span>`;
};
const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx]!.attrSet('rel', 'nofollow noopener noreferrer');
  return defaultLinkOpen(tokens, idx, options, env, self);
};
const defaultFence = md.renderer.rules.fence!;
md.renderer.rules.fence = (tokens, idx, options, env, self) => (/^breyta-resource\b/.test(tokens[idx]!.info.trim()) ? '' : defaultFence(tokens, idx, options, env, self));

export function renderMarkdown(text: string): string {
  return md.render(text);
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** A CSV as a table, its first row the header; says so when it shows only the first rows. */
export function renderCsv(text: string, cut: boolean): { html: string; complete: boolean } {
  const table = readCsv(text, { maxRows: CSV_MAX_ROWS, maxColumns: CSV_MAX_COLUMNS, cut });
  const [head, ...rows] = table.rows;
  if (!head) return { html: '<p class="note">The table is empty.</p>', complete: table.complete };
  const cells = (row: string[], tag: 'th' | 'td'): string => `<tr>${row.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('')}</tr>`;
  const html = `<div class="table"><table><thead>${cells(head, 'th')}</thead><tbody>${rows.map((r) => cells(r, 'td')).join('')}</tbody></table></div>`;
  return { html, complete: table.complete };
}
