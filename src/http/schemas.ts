/**
 * JSON schemas of the API bodies (field names are the step schema's
 * kebab-case names). Unknown fields are rejected, never dropped: the server
 * runs ajv with removeAdditional off (src/app.ts).
 */
const segment = { type: 'string', minLength: 1, maxLength: 255 } as const;
const scalar = { type: ['string', 'number', 'boolean'] } as const;
const scalarMap = {
  type: 'object',
  additionalProperties: { anyOf: [scalar, { type: 'array', items: scalar, maxItems: 1000 }] },
} as const;

export const searchIndexSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    text: { type: 'string', maxLength: 1024 },
    tags: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 64 }, maxItems: 16 },
    'source-label': { type: 'string', maxLength: 128 },
    'include-raw-content?': { type: 'boolean' },
  },
} as const;

export const stepBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['flow-slug', 'step-id', 'request'],
  properties: {
    'flow-slug': segment,
    'step-id': segment,
    'run-id': segment,
    request: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: { type: 'string', minLength: 1, maxLength: 8192 },
        method: { type: 'string', enum: ['get', 'post', 'put', 'patch', 'delete', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', ':get', ':post', ':put', ':patch', ':delete'] },
        headers: { type: 'object', additionalProperties: { type: 'string', maxLength: 8192 }, maxProperties: 100 },
        query: scalarMap,
        json: {},
        form: scalarMap,
        body: {},
        'content-type': { type: 'string', minLength: 1, maxLength: 255 },
        accept: { type: 'string', minLength: 1, maxLength: 255 },
        'response-as': { type: 'string', enum: ['auto', 'json', 'text', 'bytes', 'edn', 'xml'] },
        timeout: { type: 'number', exclusiveMinimum: 0, maximum: 86400 },
        'client-opts': {
          type: 'object',
          additionalProperties: false,
          properties: { 'max-response-bytes': { type: 'integer', minimum: 0 }, 'max-redirects': { type: 'integer', minimum: 0, maximum: 20 }, 'total-timeout': { type: 'number', exclusiveMinimum: 0, maximum: 86400 } },
        },
        connection: { type: 'string', minLength: 1, maxLength: 128 },
        path: { type: 'string', maxLength: 8192 },
        // Validated by src/upstream/auth.ts, so that an inline credential is inline_secret_rejected, not a schema error.
        auth: {},
        // Shapes checked by the step runner, whose messages name the field: retry (src/upstream/retry.ts),
        // multipart and body-from-ref (src/step/ref-bodies.ts). template and parser-fn are accepted here only
        // so that src/upstream/build-request.ts refuses them as not supported, rather than as unknown fields.
        retry: {},
        multipart: {},
        'body-from-ref': {},
        template: {},
        'parser-fn': {},
      },
    },
    persist: {
      type: 'object',
      additionalProperties: false,
      required: ['type'],
      properties: {
        type: { type: 'string', enum: ['blob'] },
        tier: { type: 'string', enum: ['retained', 'ephemeral'] },
        path: { type: 'string', maxLength: 1024 },
        filename: { type: 'string', minLength: 1, maxLength: 1024 },
        'content-type': { type: 'string', minLength: 1, maxLength: 255 },
        slot: { type: 'string', minLength: 1, maxLength: 128 },
        'search-index': searchIndexSchema,
      },
    },
    params: {
      type: 'object',
      additionalProperties: false,
      properties: { input: { type: 'object' }, data: { type: 'object' } },
    },
    slots: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          root: { type: 'string', minLength: 1, maxLength: 1024 },
          connection: { type: 'string', minLength: 1 },
          'profile-id': { type: 'string', minLength: 1, maxLength: 255 },
          prefix: { type: 'string', minLength: 1, maxLength: 1024 },
        },
      },
    },
  },
} as const;

export const workspaceParams = {
  type: 'object',
  required: ['ws'],
  properties: { ws: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' } },
} as const;

export const uriQuery = {
  type: 'object',
  additionalProperties: false,
  required: ['uri'],
  properties: { uri: { type: 'string', minLength: 1, maxLength: 4096 } },
} as const;

export const signUrlBody = {
  type: 'object',
  additionalProperties: false,
  required: ['uri'],
  properties: {
    uri: { type: 'string', minLength: 1, maxLength: 4096 },
    'ttl-seconds': { type: 'integer' },
    download: { type: 'boolean' },
    filename: { type: 'string', minLength: 1, maxLength: 255 },
  },
} as const;

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    q: { type: 'string', minLength: 1, maxLength: 256 },
    types: { type: 'string', minLength: 1, maxLength: 64 },
    'path-prefix': { type: 'string', maxLength: 1024 },
    'storage-root': { type: 'string', minLength: 1, maxLength: 1024 },
    'storage-backend': { type: 'string', enum: ['local', 's3', 'gcs'] },
    tier: { type: 'string', enum: ['retained', 'ephemeral'] },
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' },
    cursor: { type: 'string', maxLength: 4096 },
  },
} as const;
