// XML-API object reads authorised by a V4 signed URL (GOOG4-RSA-SHA256), path style:
//   GET /:bucket/:encodedName?X-Goog-Algorithm=…&X-Goog-Credential=…&X-Goog-Date=…
//       &X-Goog-Expires=…&X-Goog-SignedHeaders=host&X-Goog-Signature=<hex>
// The canonical request is rebuilt the way @google-cloud/storage 7.x signs it
// (build/cjs/src/signer.js): method, canonical URI, sorted canonical query without the
// signature, canonical headers, signed headers, UNSIGNED-PAYLOAD.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, createVerify } from 'node:crypto';
import { type State, sendMedia } from './common.js';

const SEVEN_DAYS = 7 * 24 * 3600;

/** RFC 3986 encoding of everything but A-Z a-z 0-9 - . _ ~ (the client's fixedEncodeURIComponent). */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

export function sendXmlError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  details?: string,
  extra: Record<string, string> = {},
): void {
  let body = `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>`;
  if (details !== undefined) body += `<Details>${xmlEscape(details)}</Details>`;
  for (const [k, v] of Object.entries(extra)) body += `<${k}>${xmlEscape(v)}</${k}>`;
  body += '</Error>';
  const buf = Buffer.from(body);
  res.writeHead(status, { 'Content-Type': 'application/xml; charset=UTF-8', 'Content-Length': buf.length });
  res.end(buf);
}

/** Raw query pairs in order, percent-decoded ('+' is kept literally: clients encode spaces as %20). */
function rawQueryPairs(rawQuery: string): Array<[string, string]> {
  if (!rawQuery) return [];
  return rawQuery.split('&').filter(Boolean).map(p => {
    const i = p.indexOf('=');
    const k = i < 0 ? p : p.slice(0, i);
    const v = i < 0 ? '' : p.slice(i + 1);
    return [decodeURIComponent(k), decodeURIComponent(v)];
  });
}

function parseGoogDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

function isoNoMillis(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/** Handles GET/HEAD on the XML path. `segments` are the already decoded path segments. */
export function handleXmlObject(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  rawQuery: string,
  segments: string[],
): void {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    return sendXmlError(res, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }
  let pairs: Array<[string, string]>;
  try {
    pairs = rawQueryPairs(rawQuery);
  } catch {
    return sendXmlError(res, 400, 'InvalidArgument', 'Invalid argument.', 'Malformed query string.');
  }
  const q = new Map(pairs);
  const [bucketName, ...rest] = segments;
  const name = rest.join('/');

  if (!q.has('X-Goog-Signature')) {
    // Buckets of this server are private: no anonymous XML access.
    return sendXmlError(res, 403, 'AccessDenied', 'Access denied.', `Anonymous caller does not have storage.objects.get access to the Google Cloud Storage object.`);
  }
  const algorithm = q.get('X-Goog-Algorithm');
  const credential = q.get('X-Goog-Credential') ?? '';
  const dateStr = q.get('X-Goog-Date') ?? '';
  const expiresStr = q.get('X-Goog-Expires') ?? '';
  const signedHeaders = q.get('X-Goog-SignedHeaders') ?? '';
  const signature = q.get('X-Goog-Signature') ?? '';
  if (algorithm !== 'GOOG4-RSA-SHA256') {
    return sendXmlError(res, 400, 'AuthorizationQueryParametersError', 'Invalid argument.', `Unsupported X-Goog-Algorithm: ${algorithm ?? ''}`);
  }
  const date = parseGoogDate(dateStr);
  const credParts = credential.split('/');
  if (date === undefined || credParts.length !== 5 || credParts[1] !== dateStr.slice(0, 8) || credParts[4] !== 'goog4_request') {
    return sendXmlError(res, 400, 'AuthorizationQueryParametersError', 'Invalid argument.', 'Malformed X-Goog-Credential or X-Goog-Date.');
  }
  if (!/^\d+$/.test(expiresStr) || Number(expiresStr) < 1 || Number(expiresStr) > SEVEN_DAYS) {
    return sendXmlError(res, 400, 'AuthorizationQueryParametersError', 'Invalid argument.', `X-Goog-Expires must be between 1 and ${SEVEN_DAYS} seconds.`);
  }
  // Expiry is checked before the signature, like GCS does (HTTP 400 ExpiredToken, measured).
  const expiresAt = date + Number(expiresStr) * 1000;
  if (Date.now() >= expiresAt) {
    return sendXmlError(res, 400, 'ExpiredToken', 'Invalid argument.', `The provided token has expired. Request signature expired at: ${isoNoMillis(expiresAt)}`);
  }

  // Canonical URI: decoded path segments re-encoded with RFC 3986 (the client's encodeURI(name, false)).
  const canonicalUri = '/' + segments.map(rfc3986).join('/');
  const canonicalQuery = pairs
    .filter(([k]) => k !== 'X-Goog-Signature')
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headerNames = signedHeaders.split(';').filter(Boolean);
  let canonicalHeaders = '';
  for (const h of headerNames) {
    let v = req.headers[h];
    if (Array.isArray(v)) v = v.join(',');
    // The Node client signs the host without the port (new URL(apiEndpoint).hostname).
    if (h === 'host') v = (v ?? '').replace(/:\d+$/, '');
    canonicalHeaders += `${h}:${(v ?? '').trim().replace(/\s{2,}/g, ' ')}\n`;
  }
  const payload = typeof req.headers['x-goog-content-sha256'] === 'string' && headerNames.includes('x-goog-content-sha256')
    ? req.headers['x-goog-content-sha256']
    : 'UNSIGNED-PAYLOAD';
  const canonicalRequest = [method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders, payload].join('\n');
  const scope = credParts.slice(1).join('/');
  const stringToSign = ['GOOG4-RSA-SHA256', dateStr, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');

  const signing = state.signing;
  let valid = false;
  if (signing && /^[0-9a-f]+$/i.test(signature) && signature.length % 2 === 0) {
    const emailOk = signing.clientEmail === undefined || signing.clientEmail === credParts[0];
    try {
      valid = emailOk && createVerify('RSA-SHA256').update(stringToSign).verify(signing.publicKeyPem, Buffer.from(signature, 'hex'));
    } catch {
      valid = false;
    }
  }
  if (!valid) {
    return sendXmlError(
      res,
      403,
      'SignatureDoesNotMatch',
      'Access denied.',
      'The request signature we calculated does not match the signature you provided. Check your Google secret key and signing method.',
      { StringToSign: stringToSign, CanonicalRequest: canonicalRequest },
    );
  }

  const obj = bucketName ? state.buckets.get(bucketName)?.objects.get(name) : undefined;
  if (!bucketName || !state.buckets.has(bucketName)) {
    return sendXmlError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist.');
  }
  if (!obj) return sendXmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.', `No such object: ${bucketName}/${name}`);
  const overrides: Record<string, string> = {};
  const rcd = q.get('response-content-disposition');
  const rct = q.get('response-content-type');
  if (rcd) overrides['Content-Disposition'] = rcd;
  if (rct) overrides['Content-Type'] = rct;
  sendMedia(req, res, obj, overrides, () =>
    sendXmlError(res, 416, 'InvalidRange', 'The requested range cannot be satisfied.', String(req.headers.range ?? '')),
  );
}
