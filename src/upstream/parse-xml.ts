import { XMLParser, XMLValidator, type X2jOptions } from 'fast-xml-parser';
import { BlobgateError } from '../errors.js';

/**
 * Parses an inline XML body into JSON with fast-xml-parser (README "The HTTP
 * step" lists the mapping): `{"<root>": …}`; an element holding only text is
 * its text, otherwise an object with `@name` attributes, child elements by
 * name and `#text`; a name repeated among siblings becomes an array. Text and
 * attributes stay strings, the declaration, processing instructions and
 * comments are dropped, CDATA joins the text.
 *
 * Entities: the five predefined ones and numeric character references are
 * decoded; entities a DOCTYPE declares are never expanded (no billion-laughs
 * growth) and external ones never fetched (no XXE): a reference to one stays
 * as written, `&name;`.
 */
export function parseXml(text: string, maxDepth: number, status: number): unknown {
  if (text.trim() === '') return null;
  // The validator is what reports line and column; the parser itself accepts mismatched tags.
  const checked = XMLValidator.validate(text);
  if (checked !== true) {
    const { msg, line, col } = checked.err;
    throw unparseable(`${msg} (line ${line}, column ${col})`, status, { line, column: col });
  }
  try {
    return new XMLParser(options(maxDepth)).parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : 'malformed XML';
    throw unparseable(/nested tags/i.test(message) ? `elements nest deeper than ${maxDepth} levels` : message, status);
  }
}

function options(maxDepth: number): X2jOptions {
  return {
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    textNodeName: '#text',
    parseTagValue: false,
    parseAttributeValue: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    // The parser counts open elements and throws past this; the result is walked recursively later.
    maxNestedTags: maxDepth,
    processEntities: true,
    entityDecoder: predefinedEntitiesOnly(),
  };
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** A decoder that ignores every entity a document declares; one pass, so `&amp;lt;` is `&lt;`. */
function predefinedEntitiesOnly(): NonNullable<X2jOptions['entityDecoder']> {
  return {
    setExternalEntities: () => undefined,
    addInputEntities: () => undefined,
    reset: () => undefined,
    setXmlVersion: () => undefined,
    decode: (s) =>
      s.includes('&')
        ? s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z][A-Za-z0-9._-]*);/g, (whole, ref: string) => {
            if (ref[0] !== '#') return PREDEFINED[ref] ?? whole;
            const code = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
            return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
          })
        : s,
  };
}

function unparseable(what: string, status: number, where: Record<string, number> = {}): BlobgateError {
  return new BlobgateError(
    'response_unparseable',
    `The upstream response is not well-formed XML: ${what}; use response-as "text" to receive it as a string.`,
    { status, ...where },
  );
}
