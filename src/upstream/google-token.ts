import { createHash, createSign } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import { BlobgateError } from '../errors.js';
import type { UpstreamGuard } from './guard.js';

/**
 * OAuth access tokens for a Google service account (JWT bearer grant,
 * RFC 7523), minted for the asked scopes and cached until shortly before they
 * expire. Written here rather than with google-auth-library because its JWT
 * client (via gtoken 7) always posts to https://www.googleapis.com/oauth2/v4/token
 * and ignores the key's `token_uri`, which private deployments and our
 * loopback tests rely on.
 */
interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
}

const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
/** Refresh this long before expiry, so a token never expires mid-request. */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;
/** Tokens kept at most; the oldest entry goes first when a new one would exceed it. */
const MAX_CACHED_TOKENS = 1000;

export class GoogleTokenSource {
  private readonly cache = new Map<string, { token: string; expiresAt: number }>();
  private readonly inflight = new Map<string, Promise<string>>();

  /** The token endpoint is an upstream like any other: it goes through the SSRF guard. */
  constructor(
    private readonly guard: Pick<UpstreamGuard, 'dispatcher' | 'assertUrlAllowed'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** An access token for the key held in `secretValue` (the service-account JSON). */
  async token(secretValue: string, scopes: readonly string[]): Promise<string> {
    const key = parseKey(secretValue);
    const cacheKey = tokenCacheKey(secretValue, key, scopes);
    const cached = this.cache.get(cacheKey);
    if (cached && cached.expiresAt - REFRESH_MARGIN_MS > this.now()) return cached.token;
    let pending = this.inflight.get(cacheKey);
    if (!pending) {
      pending = this.mint(key, scopes, cacheKey).finally(() => this.inflight.delete(cacheKey));
      this.inflight.set(cacheKey, pending);
    }
    return pending;
  }

  private async mint(key: ServiceAccountKey, scopes: readonly string[], cacheKey: string): Promise<string> {
    const tokenUri = key.token_uri ?? DEFAULT_TOKEN_URI;
    const iat = Math.floor(this.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', ...(key.private_key_id ? { kid: key.private_key_id } : {}) };
    const claims = { iss: key.client_email, scope: scopes.join(' '), aud: tokenUri, iat, exp: iat + 3600 };
    const unsigned = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    let signature: string;
    try {
      signature = createSign('RSA-SHA256').update(unsigned).sign(key.private_key, 'base64url');
    } catch (err) {
      throw new BlobgateError('invalid_request', 'The google-service-account secret holds a private key that cannot sign.', undefined, { cause: err });
    }
    const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${unsigned}.${signature}` }).toString();
    let res: Dispatcher.ResponseData;
    try {
      this.guard.assertUrlAllowed(new URL(tokenUri));
      res = await request(tokenUri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        dispatcher: this.guard.dispatcher,
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
    } catch (err) {
      if (err instanceof BlobgateError) throw err;
      throw new BlobgateError('upstream_unreachable', `The token endpoint ${new URL(tokenUri).host} could not be reached.`, undefined, { cause: err });
    }
    // undici's body emits RequestAbortedError when destroyed unread (here, or past the answer bound
    // below); owned from the start, it can never crash the process. Read errors still reach the reader.
    res.body.on('error', () => {});
    if (res.statusCode !== 200) {
      res.body.destroy();
      throw new BlobgateError('upstream_status', `The token endpoint refused the service account (status ${res.statusCode}).`, { status: res.statusCode });
    }
    const answer = tokenAnswer(await readAnswer(res, tokenUri));
    this.remember(cacheKey, answer.token, this.now() + answer.expiresInSeconds * 1000);
    return answer.token;
  }

  /** Caches a token, dropping expired entries and then the oldest ones so the cache stays bounded. */
  private remember(cacheKey: string, token: string, expiresAt: number): void {
    this.cache.delete(cacheKey);
    if (this.cache.size >= MAX_CACHED_TOKENS) {
      const now = this.now();
      for (const [k, v] of this.cache) if (v.expiresAt - REFRESH_MARGIN_MS <= now) this.cache.delete(k);
    }
    for (const k of this.cache.keys()) {
      if (this.cache.size < MAX_CACHED_TOKENS) break;
      this.cache.delete(k);
    }
    this.cache.set(cacheKey, { token, expiresAt });
  }
}

/**
 * The cache key covers the whole secret value, not only `client_email`: two
 * workspaces may hold keys naming the same (public) service account, and only
 * the one holding the private key that the token endpoint accepted may reuse
 * its token. A hash, so the cache never holds a private key as a map key.
 */
function tokenCacheKey(secretValue: string, key: ServiceAccountKey, scopes: readonly string[]): string {
  return createHash('sha256')
    .update(secretValue)
    .update('\0')
    .update(key.token_uri ?? '')
    .update('\0')
    .update([...scopes].sort().join(' '))
    .digest('hex');
}

/** A token answer is a small JSON object; anything longer is not one. */
const MAX_ANSWER_BYTES = 64 * 1024;

async function readAnswer(res: Dispatcher.ResponseData, tokenUri: string): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_ANSWER_BYTES) {
        res.body.destroy();
        throw unusableAnswer(`is longer than ${MAX_ANSWER_BYTES} bytes`);
      }
      parts.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof BlobgateError) throw err;
    throw new BlobgateError('upstream_unreachable', `The token endpoint ${new URL(tokenUri).host} dropped the connection.`, undefined, { cause: err });
  }
  return Buffer.concat(parts, size).toString('utf8');
}

/** The token and its lifetime from a 200 answer (RFC 6749 §5.1); anything else is unusable. */
function tokenAnswer(text: string): { token: string; expiresInSeconds: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw unusableAnswer('is not JSON');
  }
  const { access_token: token, expires_in: expiresIn } = (parsed ?? {}) as { access_token?: unknown; expires_in?: unknown };
  if (typeof token !== 'string' || token === '' || /[\s\u0000-\u001f\u007f]/.test(token)) throw unusableAnswer('holds no usable access_token');
  const lifetime = typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600;
  return { token, expiresInSeconds: lifetime };
}

function unusableAnswer(what: string): BlobgateError {
  // The answer itself is never echoed: it may hold a token.
  return new BlobgateError('response_unparseable', `The token endpoint answered 200, but its answer ${what}; check the service account's token_uri.`, { status: 200 });
}

function parseKey(secretValue: string): ServiceAccountKey {
  try {
    const key = JSON.parse(secretValue) as Partial<ServiceAccountKey>;
    if (typeof key.client_email === 'string' && typeof key.private_key === 'string') return key as ServiceAccountKey;
  } catch {
    // fall through: never echo the value
  }
  throw new BlobgateError('invalid_request', 'The google-service-account secret is not a service-account key JSON (client_email and private_key are required).');
}

function b64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}
