/**
 * The one error catalogue. Every error blobgate answers with is built from a
 * code listed here; the HTTP status lives next to it and nowhere else.
 * Callers match on `code`, never on message text. The README lists every code
 * (test/errors-catalogue.test.ts fails when one is missing; docs/errors.md).
 */
export const ERROR_CATALOGUE = {
  invalid_request: { status: 400, summary: 'The request body, query or a field in it is malformed, unknown or not supported.' },
  template_unresolved: { status: 400, summary: 'A {{…}} / <<…>> template names a variable that does not exist or is not a scalar.' },
  path_invalid: { status: 400, summary: 'A key segment is empty, ".", "..", absolute, or holds a backslash, NUL or control character.' },
  inline_limit_exceeded: { status: 413, summary: 'The upstream response is larger than the inline limit; add a persist spec.' },
  binary_requires_persist: { status: 422, summary: 'The upstream response is binary; binary bodies are never inlined, add a persist spec.' },
  response_unparseable: { status: 502, summary: 'The upstream response could not be parsed as the step\'s response-as asked (or a token endpoint answered 200 without a token).' },
  cap_exceeded: { status: 413, summary: 'The body is larger than the write cap (tier cap, or max-response-bytes when lower).' },
  load_limit_exceeded: { status: 413, summary: 'A blob loaded as a request body is larger than the load limit of its tier.' },
  range_not_satisfiable: { status: 416, summary: 'The requested byte range lies outside the stored object.' },
  inline_secret_rejected: { status: 400, summary: 'A credential was given inline; credentials are accepted only as secret references.' },
  secret_not_found: { status: 400, summary: 'A secret reference does not exist in the calling workspace.' },
  destination_blocked: { status: 403, summary: 'The upstream destination is not allowed (scheme, or an address that is not public unicast).' },
  secret_destination_refused: { status: 403, summary: 'The secret may not be sent to that destination (its hosts, or its connection\'s origin).' },
  upstream_status: { status: 502, summary: 'The upstream answered with a status outside 2xx.' },
  upstream_timeout: { status: 504, summary: 'The upstream did not answer, or stalled, within the step timeout.' },
  upstream_unreachable: { status: 502, summary: 'The upstream could not be reached (DNS, connect, reset, TLS).' },
  client_timeout: { status: 408, summary: 'The client sent its headers, request or upload body too slowly (server.* timeouts); nothing was stored.' },
  unauthorized: { status: 401, summary: 'The bearer API token is missing or not valid.' },
  forbidden: { status: 403, summary: 'The token is not granted the workspace named by the path or the res:// URI.' },
  signature_invalid: { status: 403, summary: 'A signed URL was tampered with or has expired.' },
  idempotency_key_reused: { status: 422, summary: 'The Idempotency-Key was already used for a different request in the workspace; use a new key.' },
  key_conflict: { status: 409, summary: 'The key is the folder of other objects, or lies below an object, in a store that keeps keys as paths (the local store); choose another key.' },
  not_found: { status: 404, summary: 'No resource exists at that URI (or route).' },
  gone: { status: 410, summary: 'The ephemeral resource has expired.' },
  storage_error: { status: 502, summary: 'The storage backend failed; the write left nothing behind.' },
  aborted: { status: 503, summary: 'The transfer was aborted (client disconnect or shutdown); nothing was stored.' },
  overloaded: { status: 503, summary: 'Too many transfers are in flight; retry after the Retry-After delay.' },
  internal: { status: 500, summary: 'An unexpected fault inside blobgate (a bug); the log holds the detail.' },
} as const satisfies Record<string, { status: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/**
 * Codes in the catalogue that no code path produces yet. Empty now; kept so
 * that a code added ahead of its feature is marked. test/errors-catalogue.test.ts
 * requires a test asserting every other code, and requires this list to
 * shrink as those features land.
 */
export const RESERVED_CODES: readonly ErrorCode[] = [];

export type ErrorDetails = Record<string, unknown>;

export class BlobgateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BlobgateError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.details = details;
  }

  toJSON(): { error: { code: ErrorCode; message: string; details?: ErrorDetails } } {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}

export function isBlobgateError(err: unknown, code?: ErrorCode): err is BlobgateError {
  return err instanceof BlobgateError && (code === undefined || err.code === code);
}

/** Shorthand used all over: `fail('path_invalid', '…')`. */
export function fail(code: ErrorCode, message: string, details?: ErrorDetails, cause?: unknown): never {
  throw new BlobgateError(code, message, details, cause === undefined ? undefined : { cause });
}
