import mime from 'mime-types';
import { BlobgateError } from '../errors.js';

/**
 * A media type as RFC 9110 §8.3.1 writes it (type/subtype, optional
 * parameters), printable ASCII only: anything else would be refused by
 * Node when the blob is served (a 500 for every download) or sent upstream.
 */
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+=("[\x20-\x21\x23-\x5b\x5d-\x7e]*"|[!#$%&'*+.^_`|~0-9A-Za-z-]+))*\s*$/;

export function isMediaType(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 255 && MEDIA_TYPE.test(value);
}

/**
 * The content-type keywords a step may write instead of a media type (`json`,
 * `:csv`, …). One table for `content-type`, `accept` and persist
 * `content-type` (README "The HTTP step"); a name not here is looked up as a
 * file extension by mime-types (`png`, `zip`).
 */
export const MEDIA_TYPE_KEYWORDS: Readonly<Record<string, string>> = Object.freeze({
  json: 'application/json',
  edn: 'application/edn',
  xml: 'application/xml',
  csv: 'text/csv',
  text: 'text/plain',
  html: 'text/html',
  pdf: 'application/pdf',
  bytes: 'application/octet-stream',
  binary: 'application/octet-stream',
  form: 'application/x-www-form-urlencoded',
  multipart: 'multipart/form-data',
});

/**
 * A keyword (with or without its leading `:`) or a media type, as the media
 * type it stands for. Anything that does not come out as a media type is
 * `invalid_request` naming `field` — raised while the step is being read,
 * before any upstream byte is sent.
 */
export function resolveMediaType(value: string, field: string): string {
  const v = value.startsWith(':') ? value.slice(1) : value;
  const resolved = v.includes('/') ? v : (MEDIA_TYPE_KEYWORDS[v.toLowerCase()] ?? (mime.lookup(v) || v));
  if (!isMediaType(resolved)) {
    throw new BlobgateError(
      'invalid_request',
      `${field} ${JSON.stringify(value)} is neither a media type like text/csv nor a known keyword (${Object.keys(MEDIA_TYPE_KEYWORDS).join(', ')}, or a file extension).`,
      { field },
    );
  }
  return resolved;
}
