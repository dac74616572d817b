import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * AWS Signature Version 4 verification, hand-written from the spec
 * ("Create a signed AWS API request", "Authenticating Requests: Using Query
 * Parameters" in the S3 API reference) and deliberately independent of the
 * SDK's signer: the proxy in front of fauxqs recomputes every signature the
 * SDK makes and compares in constant time.
 *
 * S3 specifics: the canonical URI is the path URI-encoded once (not twice),
 * the payload hash comes from `x-amz-content-sha256` (header auth) or is
 * `UNSIGNED-PAYLOAD` (query auth, unless X-Amz-Content-Sha256 is given).
 */
export interface SigV4Config {
  /** Access key id → secret access key. */
  credentials: Readonly<Record<string, string>>;
  region: string;
  service: string;
  /** Clock of the verifier. */
  now(): Date;
}

export type Verdict =
  | {
      ok: true;
      presigned: boolean;
      /** The payload hash the signature covers: 64 hex chars, or an UNSIGNED-/STREAMING- marker. */
      payloadHash: string;
      /** Decoded query parameters. */
      query: ReadonlyMap<string, string>;
    }
  | { ok: false; status: number; code: string; message: string };

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** S3 accepts header-signed requests up to 15 minutes off its clock. */
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_EXPIRES_S = 604_800;

interface ParsedAuth {
  presigned: boolean;
  accessKeyId: string;
  scope: { date: string; region: string; service: string; terminal: string };
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  expires?: number;
  payloadHash: string;
}

export function verifySigV4(method: string, rawUrl: string, headers: IncomingHttpHeaders, cfg: SigV4Config): Verdict {
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const pairs = parseQuery(q === -1 ? '' : rawUrl.slice(q + 1));
  if (pairs === undefined) return deny(400, 'InvalidArgument', 'The query string is not valid percent-encoding.');
  const query = new Map(pairs);
  const parsed = parseAuth(query, headers);
  if ('status' in parsed) return { ok: false, ...parsed };

  const secret = cfg.credentials[parsed.accessKeyId];
  if (secret === undefined) return deny(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  const { scope } = parsed;
  if (scope.region !== cfg.region || scope.service !== cfg.service || scope.terminal !== 'aws4_request' || scope.date !== parsed.amzDate.slice(0, 8)) {
    return deny(400, 'AuthorizationHeaderMalformed', `The authorization scope is wrong; expecting <date>/${cfg.region}/${cfg.service}/aws4_request.`);
  }
  if (!parsed.signedHeaders.includes('host')) return deny(403, 'AccessDenied', 'The host header must be signed.');
  const signedAt = parseAmzDate(parsed.amzDate);
  if (signedAt === undefined) return deny(403, 'AccessDenied', 'X-Amz-Date is not a valid ISO 8601 basic timestamp.');
  const now = cfg.now().getTime();
  if (parsed.presigned) {
    const expires = parsed.expires ?? NaN;
    if (!Number.isInteger(expires) || expires < 1 || expires > MAX_EXPIRES_S) {
      return deny(400, 'AuthorizationQueryParametersError', `X-Amz-Expires must be from 1 to ${MAX_EXPIRES_S} seconds.`);
    }
    if (now > signedAt + expires * 1000) return deny(403, 'AccessDenied', 'Request has expired');
    if (signedAt > now + MAX_SKEW_MS) return deny(403, 'AccessDenied', 'Request is not valid yet');
  } else if (Math.abs(now - signedAt) > MAX_SKEW_MS) {
    return deny(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
  }

  const canonical = canonicalRequest(method, rawPath, pairs, headers, parsed);
  if (canonical === undefined) return deny(403, 'SignatureDoesNotMatch', 'A signed header is missing from the request.');
  const stringToSign = [ALGORITHM, parsed.amzDate, `${scope.date}/${scope.region}/${scope.service}/aws4_request`, sha256Hex(canonical)].join('\n');
  const expected = hmac(signingKey(secret, scope.date, scope.region, scope.service), stringToSign);
  if (!/^[0-9a-f]{64}$/.test(parsed.signature) || !timingSafeEqual(expected, Buffer.from(parsed.signature, 'hex'))) {
    return deny(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
  }
  return { ok: true, presigned: parsed.presigned, payloadHash: parsed.payloadHash, query };
}

function parseAuth(query: Map<string, string>, headers: IncomingHttpHeaders): ParsedAuth | { status: number; code: string; message: string } {
  const header = typeof headers.authorization === 'string' ? headers.authorization : undefined;
  const algorithm = query.get('X-Amz-Algorithm');
  if (algorithm !== undefined && header !== undefined) return fault(400, 'InvalidArgument', 'Only one auth mechanism allowed.');
  if (algorithm !== undefined) {
    if (algorithm !== ALGORITHM) return fault(400, 'AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256".');
    const credential = query.get('X-Amz-Credential');
    const signedHeaders = query.get('X-Amz-SignedHeaders');
    const signature = query.get('X-Amz-Signature');
    const amzDate = query.get('X-Amz-Date');
    const expires = query.get('X-Amz-Expires');
    if (!credential || !signedHeaders || !signature || !amzDate || !expires) {
      return fault(400, 'AuthorizationQueryParametersError', 'Query-string authentication requires X-Amz-Credential, -SignedHeaders, -Signature, -Date and -Expires.');
    }
    const cred = parseCredential(credential);
    if (cred === undefined) return fault(400, 'AuthorizationQueryParametersError', 'X-Amz-Credential is malformed.');
    return {
      presigned: true,
      ...cred,
      signedHeaders: signedHeaders.split(';'),
      signature,
      amzDate,
      expires: /^\d+$/.test(expires) ? Number(expires) : NaN,
      payloadHash: query.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD',
    };
  }
  if (header === undefined) return fault(403, 'AccessDenied', 'Access Denied');
  if (!header.startsWith(`${ALGORITHM} `)) return fault(400, 'InvalidArgument', 'Unsupported Authorization Type');
  const fields = new Map<string, string>();
  for (const part of header.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const cred = parseCredential(fields.get('Credential') ?? '');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  const amzDate = headers['x-amz-date'];
  const payloadHash = headers['x-amz-content-sha256'];
  if (cred === undefined || !signedHeaders || !signature) return fault(400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed.');
  if (typeof amzDate !== 'string') return fault(403, 'AccessDenied', 'AWS authentication requires a valid x-amz-date header.');
  if (typeof payloadHash !== 'string') return fault(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  return { presigned: false, ...cred, signedHeaders: signedHeaders.split(';'), signature, amzDate, payloadHash };
}

function parseCredential(value: string): Pick<ParsedAuth, 'accessKeyId' | 'scope'> | undefined {
  const parts = value.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) return undefined;
  const [accessKeyId, date, region, service, terminal] = parts as [string, string, string, string, string];
  return { accessKeyId, scope: { date, region, service, terminal } };
}

function canonicalRequest(method: string, rawPath: string, pairs: Array<[string, string]>, headers: IncomingHttpHeaders, auth: ParsedAuth): string | undefined {
  let path: string;
  try {
    path = rawPath.split('/').map((seg) => uriEncode(decodeURIComponent(seg))).join('/');
  } catch {
    return undefined;
  }
  const query = pairs
    .filter(([k]) => !(auth.presigned && k === 'X-Amz-Signature'))
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  let canonicalHeaders = '';
  for (const name of auth.signedHeaders) {
    const value = headers[name];
    if (value === undefined) return undefined;
    const joined = Array.isArray(value) ? value.join(',') : value;
    canonicalHeaders += `${name}:${joined.trim().replace(/\s+/g, ' ')}\n`;
  }
  return [method, path, query, canonicalHeaders, auth.signedHeaders.join(';'), auth.payloadHash].join('\n');
}

/** Raw `a=b&c` → decoded pairs; undefined when the percent-encoding is broken. */
function parseQuery(raw: string): Array<[string, string]> | undefined {
  if (raw === '') return [];
  try {
    return raw.split('&').filter((p) => p !== '').map((p) => {
      const eq = p.indexOf('=');
      return eq === -1 ? [decodeURIComponent(p), ''] : [decodeURIComponent(p.slice(0, eq)), decodeURIComponent(p.slice(eq + 1))];
    });
  } catch {
    return undefined;
  }
}

/** SigV4 URI encoding: everything but RFC 3986 unreserved characters, uppercase hex. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : undefined;
}

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function deny(status: number, code: string, message: string): Verdict {
  return { ok: false, status, code, message };
}

function fault(status: number, code: string, message: string): { status: number; code: string; message: string } {
  return { status, code, message };
}
