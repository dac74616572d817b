import { type ConformanceCheck, type ConformanceContext, expect, needSmall } from './context.js';
import { CheckFailure } from './failure.js';
import { SMALL_BYTES } from './writes.js';

/**
 * The signing section (skipped where there is no way to sign): a URL for an
 * object, fetched with no credentials, serves its bytes; the same URL with
 * one character of its signature changed is refused — or, where the backend
 * does not check signatures (fauxqs without the verifying front), reported
 * as not enforced, which is not a failure.
 */

const SIGNED_TTL_SECONDS = 300;
/** Status codes that count as "refused" for a tampered signed URL. */
const REFUSED = new Set([400, 401, 403]);

/** The signer the section runs with (skipReason saw to it that there is one). */
function signer(ctx: ConformanceContext): NonNullable<ConformanceContext['sign']> {
  if (!ctx.sign) throw new CheckFailure('not run: no signer');
  return ctx.sign;
}

export const signedUrl: ConformanceCheck = {
  name: 'signed url',
  section: 'signing',
  smoke: 'row',
  async run(ctx) {
    const small = needSmall(ctx);
    const url = await signer(ctx)(small.key, SIGNED_TTL_SECONDS);
    ctx.signedUrl = url;
    // No credentials: the URL alone must grant the read.
    const res = await ctx.fetch(url, { signal: ctx.signal });
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status === 200, `HTTP ${res.status} for the signed URL${excerpt(body)}`);
    expect(body.equals(small.bytes), `HTTP 200 but ${body.length} bytes that differ from the ${SMALL_BYTES} written`);
    return `${urlKind(url)}: HTTP 200, ${body.length} bytes identical`;
  },
};

export const tamperedUrl: ConformanceCheck = {
  name: 'tampered url',
  section: 'signing',
  smoke: 'row',
  async run(ctx) {
    const small = needSmall(ctx);
    const url = ctx.signedUrl ?? (await signer(ctx)(small.key, SIGNED_TTL_SECONDS));
    const tampered = tamperSignature(url);
    if (!tampered) throw new CheckFailure('the signed URL carries no signature parameter (X-Amz-Signature, X-Goog-Signature or signature)');
    const res = await ctx.fetch(tampered.url, { signal: ctx.signal });
    const body = Buffer.from(await res.arrayBuffer());
    if (REFUSED.has(res.status)) return `refused: HTTP ${res.status} (${tampered.param} altered)`;
    if (res.status === 200) return { ok: 'not-enforced', detail: `not enforced by this backend (HTTP 200 with ${tampered.param} altered)` };
    throw new CheckFailure(`HTTP ${res.status} with ${tampered.param} altered, expected 400, 401 or 403${excerpt(body)}`);
  },
};

const SIGNATURE_PARAMS = ['X-Amz-Signature', 'X-Goog-Signature', 'signature', 'Signature'];

/**
 * The URL with one character of its signature query parameter changed (in
 * the raw query, so no other parameter is re-encoded).
 */
export function tamperSignature(url: string): { url: string; param: string } | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const [base, query] = [url.slice(0, q), url.slice(q + 1)];
  const pairs = query.split('&');
  for (const name of SIGNATURE_PARAMS) {
    const i = pairs.findIndex((p) => p.split('=')[0] === name);
    if (i < 0) continue;
    const value = pairs[i]!.slice(name.length + 1);
    if (value === '') continue;
    const at = Math.floor(value.length / 2);
    pairs[i] = `${name}=${value.slice(0, at)}${flip(value[at]!)}${value.slice(at + 1)}`;
    return { url: `${base}?${pairs.join('&')}`, param: name };
  }
  return undefined;
}

function flip(c: string): string {
  const hex = '0123456789abcdef';
  const i = hex.indexOf(c.toLowerCase());
  if (i >= 0) return hex[(i + 1) % 16]!;
  if (/[A-Za-z]/.test(c)) return c === 'A' ? 'B' : 'A';
  return 'A';
}

function urlKind(url: string): string {
  const pairs = (url.split('?')[1] ?? '').split('&').map((p) => p.split('=')[0]);
  if (pairs.includes('X-Amz-Signature')) return 'S3 presigned URL';
  if (pairs.includes('X-Goog-Signature')) return 'GCS V4 signed URL';
  if (pairs.includes('signature')) return 'blobgate-signed URL';
  return 'signed URL';
}

function excerpt(body: Buffer): string {
  const text = body.subarray(0, 160).toString('utf8').replace(/\s+/g, ' ').trim();
  return text ? `: ${text}` : '';
}
