import { ERROR_CATALOGUE, type ErrorCode } from '../errors.js';
import { REQUEST_ID_MAX } from './request-log.js';

/**
 * Shapes of blobgate's answers, for the OpenAPI document only. They are not
 * route response schemas on purpose: fastify serialises with those and drops
 * every field a response schema does not name, so documenting here cannot
 * change an answer. Field names follow src/refs/resource-ref.ts,
 * src/upstream/inline.ts and src/http/routes/*.ts.
 */
type JsonSchema = Record<string, unknown>;

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const str = { type: 'string' } as const;
const time = { type: 'string', format: 'date-time' } as const;
const int = { type: 'integer', minimum: 0 } as const;
const headers = { type: 'object', additionalProperties: { type: 'string' }, description: 'The upstream response headers, lower-case names.' } as const;

const blobRef: JsonSchema = {
  type: 'object',
  required: ['store', 'backend', 'bucket', 'path', 'size', 'sha256', 'content-type', 'tier', 'created-at', 'expires-at'],
  properties: {
    store: str,
    backend: { type: 'string', enum: ['local', 's3', 'gcs'] },
    bucket: { type: ['string', 'null'] },
    path: { type: 'string', description: 'The full object key.' },
    size: int,
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    'content-type': str,
    tier: { type: 'string', enum: ['retained', 'ephemeral'] },
    'created-at': time,
    'expires-at': { type: ['string', 'null'], format: 'date-time' },
  },
};

const resourceRefProperties: Record<string, JsonSchema> = {
  type: { type: 'string', const: 'resource-ref' },
  uri: { type: 'string', description: 'res://v1/ws/<ws>/file/blob/<store>/<key under the workspace>' },
  'resource-uri': { type: 'string', description: 'The same as uri.' },
  'content-type': str,
  'blob-ref': ref('BlobRef'),
  storage: {
    type: 'object',
    description: 'Present for slot writes.',
    properties: { backend: str, slot: str, root: str, 'path-under-root': str, 'relative-path': { type: 'string', deprecated: true, description: 'The former name of path-under-root, same value.' } },
  },
  'search-index': {
    type: 'object',
    properties: { text: str, tags: { type: 'array', items: str }, 'source-label': str, 'include-raw-content?': { type: 'boolean' } },
  },
};
const resourceRefRequired = ['type', 'uri', 'resource-uri', 'content-type', 'blob-ref'];

const errorCodes = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

export const COMPONENT_SCHEMAS: Record<string, JsonSchema> = {
  Error: {
    type: 'object',
    required: ['error'],
    description: 'Every error answer. Match on code (README, Error codes), never on message.',
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', enum: errorCodes },
          message: { type: 'string', description: 'What was wrong and what to do; never a secret or a stack.' },
          details: { type: 'object', additionalProperties: true, description: 'e.g. field, limit, status.' },
        },
      },
    },
  },
  BlobRef: blobRef,
  ResourceRef: { type: 'object', required: resourceRefRequired, properties: resourceRefProperties },
  PersistedResult: {
    type: 'object',
    description: 'A step with persist: the stored blob instead of the bytes.',
    required: [...resourceRefRequired, 'status', 'headers', 'attempts'],
    properties: { ...resourceRefProperties, status: int, headers, attempts: { type: 'integer', minimum: 1 } },
  },
  InlineResult: {
    type: 'object',
    description: 'A step without persist: the parsed upstream body (at most limits.inline-bytes).',
    required: ['type', 'status', 'headers', 'body', 'attempts'],
    properties: {
      type: { type: 'string', const: 'http-response' },
      status: int,
      headers,
      'content-type': str,
      body: { description: 'Parsed per response-as: JSON, text, or EDN/XML as text.' },
      attempts: { type: 'integer', minimum: 1 },
    },
  },
  ListItem: {
    type: 'object',
    required: [...resourceRefRequired, 'path', 'storage-backend', 'storage-root', 'path-under-root', 'display-name', 'tier', 'size', 'created-at'],
    properties: {
      ...resourceRefProperties,
      path: str,
      'storage-backend': { type: 'string', enum: ['local', 's3', 'gcs'] },
      'storage-root': { type: ['string', 'null'] },
      'path-under-root': str,
      'display-name': str,
      tier: { type: 'string', enum: ['retained', 'ephemeral'] },
      size: int,
      'created-at': time,
    },
  },
  ListPage: {
    type: 'object',
    required: ['items'],
    properties: { items: { type: 'array', items: ref('ListItem') }, cursor: { type: 'string', description: 'Present when more items follow: pass it back as cursor.' } },
  },
  UploadedItems: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('ResourceRef') } } },
  SignedUrl: { type: 'object', required: ['url', 'expires-at'], properties: { url: { type: 'string', format: 'uri' }, 'expires-at': time } },
  Job: {
    type: 'object',
    required: ['id', 'state', 'created-at', 'updated-at', 'expires-at', 'bytes', 'bytes-per-second', 'attempts'],
    properties: {
      id: { type: 'string' },
      state: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'lost'] },
      'created-at': time,
      'updated-at': time,
      'expires-at': time,
      bytes: { type: 'integer', minimum: 0, description: 'Bytes moved into the store so far.' },
      'total-bytes': { type: 'integer', minimum: 0, description: 'The size the source announced.' },
      'bytes-per-second': { type: 'integer', minimum: 0 },
      attempts: { type: 'integer', minimum: 0, description: 'Upstream attempts the transfer took.' },
      'idempotency-key': { type: 'string' },
      result: { description: 'Exactly the body the synchronous call would have answered with.' },
      error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } } },
    },
  },
  Liveness: { type: 'object', required: ['status'], properties: { status: { type: 'string', const: 'ok' } } },
  Readiness: {
    type: 'object',
    required: ['status', 'stores'],
    properties: {
      status: { type: 'string', enum: ['ready', 'not-ready'] },
      stores: { type: 'object', additionalProperties: { type: 'string', enum: ['ok', 'unreachable', 'bucket_missing'] } },
    },
  },
};

/**
 * X-Request-Id (src/http/request-log.ts): a caller may name its request, and
 * every answer carries the id its log line has, errors included.
 */
export const REQUEST_ID_PARAMETER = {
  name: 'X-Request-Id',
  in: 'header',
  required: false,
  schema: { type: 'string', pattern: `^[\\x21-\\x7e]{1,${REQUEST_ID_MAX}}$` },
  description: `Names the request in blobgate's log line and is answered back. One value of at most ${REQUEST_ID_MAX} visible ASCII characters; anything else (or none) is replaced by a new UUID.`,
} as const;

export const REQUEST_ID_RESPONSE_HEADER = {
  description: "The request's id: the caller's X-Request-Id when it was acceptable, else a UUID blobgate generated. The same id is on the request's log line.",
  schema: { type: 'string' },
} as const;

export type ResponseObject = { description: string; content?: Record<string, { schema: JsonSchema }>; headers?: Record<string, unknown> };

export const json = (schema: string, description: string): ResponseObject => ({ description, content: { 'application/json': { schema: ref(schema) } } });

export const bytes = (description: string): ResponseObject => ({
  description,
  content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary', description: 'The stored bytes, with their stored content type.' } } },
});

/** Error answers of an operation, one response per status, listing the codes that share it. */
export function errorResponses(codes: readonly ErrorCode[]): Record<string, ResponseObject> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CATALOGUE[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, ResponseObject> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = { description: list.map((c) => `\`${c}\`: ${ERROR_CATALOGUE[c].summary}`).join(' '), content: { 'application/json': { schema: ref('Error') } } };
  }
  return out;
}
