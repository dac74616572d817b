import { parseEDNString } from 'edn-data';
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { scanEdn } from '../upstream/edn-scan.js';
import { jsonNestingExceeds } from '../upstream/json-depth.js';

/**
 * Pretty-printers for the structured artifacts a preview shows (JSON, EDN,
 * XML). Each answers the formatted text, or undefined when the text is not
 * well-formed (a preview cut at its bound, or a broken file): the page then
 * shows the text as it is. Nesting is bounded before any recursive walk.
 */
const MAX_DEPTH = 64;

export function prettyJson(text: string): string | undefined {
  if (jsonNestingExceeds(text, MAX_DEPTH)) return undefined;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return undefined;
  }
}

export function prettyEdn(text: string): string | undefined {
  const scanned = scanEdn(text, MAX_DEPTH);
  if ('problem' in scanned || scanned.text.trim() === '') return undefined;
  try {
    // edn-data's lossless shapes ({key}, {map: [[k, v]…]} …), tags kept as written.
    const keep = (tag: string) => (val: unknown) => ({ tag, val });
    return printEdn(parseEDNString(scanned.text, { tagHandlers: { inst: keep('inst'), uuid: keep('uuid') } }), '');
  } catch {
    return undefined;
  }
}

const INLINE_WIDTH = 72;

/** EDN text of one lossless value: on one line when it fits, else one entry per line, indented. */
function printEdn(v: unknown, indent: string): string {
  const flat = printFlat(v);
  if (flat.length <= INLINE_WIDTH || !isCollection(v)) return flat;
  const o = v as Record<string, unknown>;
  const inner = `${indent}  `;
  if (Array.isArray(o.map)) {
    const lines = (o.map as Array<[unknown, unknown]>).map(([k, val]) => `${inner}${printFlat(k)} ${printEdn(val, inner).trimStart()}`);
    return `{\n${lines.join('\n')}\n${indent}}`;
  }
  const [open, close, items] = Array.isArray(v) ? ['[', ']', v] : Array.isArray(o.list) ? ['(', ')', o.list] : ['#{', '}', o.set as unknown[]];
  return `${open}\n${(items as unknown[]).map((x) => inner + printEdn(x, inner).trimStart()).join('\n')}\n${indent}${close}`;
}

function isCollection(v: unknown): boolean {
  if (Array.isArray(v)) return true;
  const o = v as Record<string, unknown> | null;
  return o !== null && typeof o === 'object' && (Array.isArray(o.map) || Array.isArray(o.list) || Array.isArray(o.set));
}

function printFlat(v: unknown): string {
  if (v === null) return 'nil';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'bigint') return `${v}N`;
  if (Array.isArray(v)) return `[${v.map(printFlat).join(' ')}]`;
  const o = v as Record<string, unknown>;
  if (typeof o.key === 'string') return `:${o.key}`;
  if (typeof o.sym === 'string') return o.sym;
  if (typeof o.char === 'string') return `\\${o.char}`;
  if (Array.isArray(o.list)) return `(${o.list.map(printFlat).join(' ')})`;
  if (Array.isArray(o.set)) return `#{${o.set.map(printFlat).join(' ')}}`;
  if (Array.isArray(o.map)) return `{${(o.map as Array<[unknown, unknown]>).map(([k, val]) => `${printFlat(k)} ${printFlat(val)}`).join(', ')}}`;
  if (typeof o.tag === 'string') return `#${o.tag} ${printFlat(o.val)}`;
  throw new Error('an EDN value of an unknown shape');
}

export function prettyXml(text: string): string | undefined {
  if (text.trim() === '' || XMLValidator.validate(text) !== true) return undefined;
  // Entities are left as written (processEntities off): none a DOCTYPE declares is ever expanded.
  const shared = { preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '@', commentPropName: '#comment', cdataPropName: '#cdata', processEntities: false } as const;
  try {
    const tree = new XMLParser({ ...shared, maxNestedTags: MAX_DEPTH, parseTagValue: false, parseAttributeValue: false, trimValues: true }).parse(text) as unknown;
    return String(new XMLBuilder({ ...shared, format: true, indentBy: '  ', suppressEmptyNode: true }).build(tree)).trim();
  } catch {
    return undefined;
  }
}
