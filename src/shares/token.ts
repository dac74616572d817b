import { createHash, randomBytes } from 'node:crypto';

/**
 * Share tokens (docs/shares.md#tokens): 32 random bytes (256 bits), base64url,
 * 43 characters. The token is the only credential of a public preview link, so
 * blobgate never stores it: a share's record is keyed by the token's sha256
 * (`shares/<hex>.json`), and a lookup hashes the presented token and reads
 * that one key — no comparison of tokens, no listing.
 */
const TOKEN_BYTES = 32;
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export function newShareToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** Anything not of the token's form is answered 404 without a store round trip. */
export function isShareToken(value: string): boolean {
  return TOKEN_RE.test(value);
}

export function shareTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * The record key of a share: global (the public routes know no workspace), in
 * the records of the retained tier's store.
 */
export function shareRecordKey(token: string): string {
  return `${SHARES_PREFIX}${shareTokenHash(token)}.json`;
}

export const SHARES_PREFIX = 'shares/';
