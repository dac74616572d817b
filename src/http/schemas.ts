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

/** Sizes are checked in UTF-8 bytes by src/persist/search-index.ts, whose messages name each limit. */
export const searchIndexSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    text: { type: 'string', description: 'At most 16,384 bytes (UTF-8).' },
    tags: { type: 'array', items: { type: 'string' }, description: 'At most 64 tags, each 1 to 128 bytes (UTF-8).' },
    'source-label': { type: 'string', description: 'At most 256 bytes (UTF-8).' },
    'include-raw-content?': { type: 'boolean', description: 'true: the first 16,384 bytes of a text-like body are indexed, on any tier; false: none; unset: the first 512 bytes of a text-like retained body.' },
  },
} as const;

/** An enumerated value in its plain and its keyword spelling (`get`, `:get`): the seeds write keywords. */
function keywordEnum<const V extends string>(values: readonly V[]) {
  return { type: 'string', enum: [...values, ...values.map((v) => `:${v}` as const)] } as const;
}

const methods = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** The HTTP step's request fields: under `request` (blobgate's nested form) or at the top of the body (the seed's flat step). */
const requestProperties = {
  url: { type: 'string', minLength: 1, maxLength: 8192 },
  method: keywordEnum([...methods, ...methods.map((m) => m.toUpperCase() as Uppercase<typeof m>)]),
  headers: { type: 'object', additionalProperties: { type: 'string', maxLength: 8192 }, maxProperties: 100 },
  query: scalarMap,
  json: {},
  form: scalarMap,
  body: {},
  // Media types or keywords (json, :csv …), resolved and checked by src/persist/media-type.ts before any request.
  'content-type': { type: 'string', minLength: 1, maxLength: 255 },
  accept: { type: 'string', minLength: 1, maxLength: 255 },
  'response-as': keywordEnum(['auto', 'json', 'text', 'bytes', 'edn', 'xml']),
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
  // multipart and body-from-ref (src/step/ref-bodies.ts). parser-fn is accepted here only so that
  // src/step/seed-shape.ts refuses it saying why (blobgate runs no caller code), rather than as an unknown field.
  retry: {},
  multipart: {},
  'body-from-ref': {},
  template: { type: 'string', minLength: 1, maxLength: 128 },
  'parser-fn': {},
} as const;

/** A slot binding: blobgate's short form `{root, connection, profile-id, prefix}` or the seed's `{binding-type, connection-id, config}`. */
const slotBindingSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    root: { type: 'string', minLength: 1, maxLength: 1024 },
    connection: { type: 'string', minLength: 1 },
    'profile-id': { type: 'string', minLength: 1, maxLength: 255 },
    prefix: { type: 'string', minLength: 1, maxLength: 1024 },
    'binding-type': keywordEnum(['connection']),
    'connection-id': { type: 'string', minLength: 1, maxLength: 128 },
    config: {
      type: 'object',
      additionalProperties: false,
      properties: { root: { type: 'string', minLength: 1, maxLength: 1024 }, prefix: { type: 'string', minLength: 1, maxLength: 1024 } },
    },
  },
} as const;

/**
 * The body of POST /v1/workspaces/:ws/http. Both shapes of a step pass here;
 * src/step/seed-shape.ts refuses a body that mixes them and turns the seed's
 * flat step into the nested one.
 */
export const stepBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['flow-slug', 'step-id'],
  properties: {
    'flow-slug': segment,
    'step-id': segment,
    'run-id': segment,
    'profile-id': { type: 'string', minLength: 1, maxLength: 255 },
    // The seed's step map names its kind and may carry a title; both are accepted and change nothing.
    type: keywordEnum(['http']),
    title: { type: 'string', maxLength: 1024 },
    request: { type: 'object', additionalProperties: false, properties: requestProperties },
    // A job's completion callback (docs/jobs.md#callbacks); with Prefer: respond-async only.
    callback: {
      type: 'object',
      additionalProperties: false,
      required: ['url', 'secret-ref'],
      properties: { url: { type: 'string', minLength: 1, maxLength: 2048 }, 'secret-ref': { type: 'string', minLength: 1, maxLength: 255 } },
    },
    ...requestProperties,
    data: { type: 'object' },
    input: { type: 'object' },
    persist: {
      type: 'object',
      additionalProperties: false,
      required: ['type'],
      properties: {
        type: keywordEnum(['blob']),
        tier: keywordEnum(['retained', 'ephemeral']),
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
    slots: { type: 'object', additionalProperties: slotBindingSchema },
    // The seed's name for the same map (an installation's `bindings`).
    bindings: { type: 'object', additionalProperties: slotBindingSchema },
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

/** POST /api/resources/shares (and /v1/workspaces/:ws/shares): the seed's camelCase body (docs/shares.md#creating-a-share). */
export const shareBody = {
  type: 'object',
  additionalProperties: false,
  required: ['uri'],
  properties: {
    uri: { type: 'string', minLength: 1, maxLength: 4096 },
    title: { type: 'string', maxLength: 200 },
    // The bounds (60 s to 90 days) are checked by src/shares/create-share.ts, whose message says them.
    ttlSeconds: { type: 'integer' },
    claimUrl: { type: 'string', maxLength: 2048 },
    allowDownload: { type: 'boolean' },
  },
} as const;

/** The workspace of the /api/resources/shares routes, as the seed sends it. */
export const breytaWorkspaceHeader = {
  type: 'object',
  required: ['x-breyta-workspace'],
  properties: { 'x-breyta-workspace': { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' } },
} as const;

export const shareTokenParams = {
  type: 'object',
  required: ['token'],
  properties: { token: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;

export const workspaceShareTokenParams = {
  type: 'object',
  required: ['ws', 'token'],
  properties: { ...workspaceParams.properties, ...shareTokenParams.properties },
} as const;
