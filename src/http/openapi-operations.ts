import type { SwaggerOptions, SwaggerTransformObject } from '@fastify/swagger';
import type { ErrorCode } from '../errors.js';
import { SIGNED_PATH } from '../signing/local-signer.js';
import { UPLOAD_FIELDS } from '../uploads/store-upload.js';
import { bytes, COMPONENT_SCHEMAS, errorResponses, json, REQUEST_ID_PARAMETER, REQUEST_ID_RESPONSE_HEADER, type ResponseObject } from './openapi-components.js';

/**
 * What the OpenAPI document says about each operation beyond its request
 * schemas: id, summary, who may call it, every answer with its body, and the
 * request bodies the routes read as streams. @fastify/swagger builds the paths
 * from the route schemas; `documentOperations` (its transformObject) then adds
 * this. A route with no entry here fails the generation, so a new route cannot
 * reach openapi.json undocumented.
 */
interface Operation {
  operationId: string;
  summary: string;
  tags: string[];
  /** Routes outside the API token check (src/app.ts). */
  public?: true;
  responses: Record<string, ResponseObject>;
  errors: readonly ErrorCode[];
  requestBody?: Record<string, unknown>;
  parameters?: Record<string, unknown>[];
}

const API: readonly ErrorCode[] = ['invalid_request', 'unauthorized', 'forbidden', 'internal'];
const READ: readonly ErrorCode[] = [...API, 'not_found', 'gone', 'storage_error'];
const UPLOAD: readonly ErrorCode[] = [...API, 'not_found', 'path_invalid', 'template_unresolved', 'client_timeout', 'cap_exceeded', 'key_conflict', 'storage_error', 'aborted', 'overloaded'];
const STEP: readonly ErrorCode[] = [
  ...UPLOAD,
  'gone',
  'inline_secret_rejected',
  'secret_not_found',
  'destination_blocked',
  'secret_destination_refused',
  'inline_limit_exceeded',
  'load_limit_exceeded',
  'binary_requires_persist',
  'response_unparseable',
  'upstream_status',
  'upstream_unreachable',
  'upstream_timeout',
];

const rangeHeader = { name: 'Range', in: 'header', required: false, schema: { type: 'string', example: 'bytes=0-1023' }, description: 'One byte range (bytes=s-e, bytes=s-, bytes=-n).' };
const partial = { ...bytes('The requested range (Content-Range says which).'), headers: { 'Content-Range': { schema: { type: 'string' } } } };
const idempotencyHeader = { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 255 }, description: 'A repeat with the same key returns the first upload\'s answer and stores nothing (README "Jobs and idempotency").' };
const uploadFieldSchema = (f: string): Record<string, unknown> =>
  f === 'tier' ? { type: 'string', enum: ['retained', 'ephemeral'], default: 'retained', description: 'The tier of the files that follow: retained (kept) or ephemeral (a larger cap; they expire).' } : { type: 'string' };

/** The share-link routes (docs/shares.md): the seed's /api/resources/shares and the /v1/workspaces/{ws}/shares form. */
function shareOperations(): Record<string, Operation> {
  const created = {
    description: 'The share: its token, public URLs and expiry.',
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required: ['token', 'publicUrl', 'expiresAt'],
          properties: {
            token: { type: 'string', description: '256 random bits, base64url; blobgate keeps only its hash.' },
            publicUrl: { type: 'string', format: 'uri' },
            expiresAt: { type: 'string', format: 'date-time' },
            publicDownloadUrl: { type: 'string', format: 'uri', description: 'Only when allowDownload was true and the artifact is text-like.' },
            title: { type: 'string' },
            claimUrl: { type: 'string', description: 'The claim path kept (a same-origin relative path); absent when none was given or it was ignored.' },
          },
        },
      },
    },
  };
  const revoked = { description: 'Revoked: both public URLs answer 404 from now on.' };
  const create = (operationId: string): Operation => ({ operationId, summary: 'Create a public share link for one resource', tags: ['shares'], responses: { 201: created }, errors: READ });
  const revoke = (operationId: string): Operation => ({ operationId, summary: 'Revoke a public share link', tags: ['shares'], responses: { 204: revoked }, errors: [...API, 'not_found', 'storage_error'] });
  const html = { description: 'The preview page.', content: { 'text/html': { schema: { type: 'string' } } } };
  return {
    'POST /api/resources/shares': create('createShare'),
    'DELETE /api/resources/shares/{token}': revoke('revokeShare'),
    'POST /v1/workspaces/{ws}/shares': create('createWorkspaceShare'),
    'DELETE /v1/workspaces/{ws}/shares/{token}': revoke('revokeWorkspaceShare'),
    'GET /public/artifact-previews/{token}': {
      operationId: 'getArtifactPreview',
      summary: 'The no-login preview page of a shared artifact',
      tags: ['shares'],
      public: true,
      responses: { 200: html },
      errors: ['not_found', 'storage_error', 'overloaded', 'internal'],
    },
    'GET /public/artifact-previews/{token}/download': {
      operationId: 'downloadSharedArtifact',
      summary: 'Download a shared text-like artifact (when the share allows it)',
      tags: ['shares'],
      public: true,
      responses: { 200: { ...bytes('The artifact, as an attachment.'), headers: { 'Content-Disposition': { schema: { type: 'string' } } } } },
      errors: ['not_found', 'storage_error', 'overloaded', 'internal'],
    },
  };
}

/** The job routes (docs/jobs.md). */
function jobOperations(): Record<string, Operation> {
  const job = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Job' } } } });
  const events = {
    description: 'Server-sent events: `progress` (bytes, rate) about once a heartbeat while the job runs, then one `done` with the final job. Each id is the record sequence; send it back as Last-Event-ID to resume on any replica.',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  };
  return {
    'GET /v1/workspaces/{ws}/jobs/{id}': { operationId: 'getJob', summary: 'Read one job', tags: ['jobs'], responses: { 200: job('The job as its record says now.') }, errors: [...API, 'not_found', 'storage_error'] },
    'GET /v1/workspaces/{ws}/jobs/{id}/events': {
      operationId: 'watchJob',
      summary: 'Watch one job as server-sent events',
      tags: ['jobs'],
      parameters: [{ name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' }, description: 'Resume after this event id.' }],
      responses: { 200: events },
      errors: [...API, 'not_found', 'storage_error', 'overloaded'],
    },
    'DELETE /v1/workspaces/{ws}/jobs/{id}': {
      operationId: 'cancelJob',
      summary: 'Cancel one job wherever it runs (idempotent)',
      tags: ['jobs'],
      responses: { 200: job('The job has ended (cancelled, or it had ended before).'), 202: job('The cancel is recorded; the replica running the job has not confirmed it yet.') },
      errors: [...API, 'not_found', 'storage_error'],
    },
    'GET /v1/workspaces/{ws}/jobs': {
      operationId: 'listJobs',
      summary: 'List the jobs of a workspace',
      tags: ['jobs'],
      responses: { 200: { description: 'One page of jobs.', content: { 'application/json': { schema: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: { $ref: '#/components/schemas/Job' } }, cursor: { type: 'string' } } } } } } },
      errors: [...API, 'storage_error'],
    },
  };
}

const OPERATIONS: Record<string, Operation> = {
  'GET /healthz': { operationId: 'getLiveness', summary: 'Liveness', tags: ['operations'], public: true, responses: { 200: json('Liveness', 'The process answers.') }, errors: [] },
  'GET /readyz': {
    operationId: 'getReadiness',
    summary: 'Readiness: every store answers',
    tags: ['operations'],
    public: true,
    responses: { 200: json('Readiness', 'Every store answered.'), 503: json('Readiness', 'At least one store did not answer (no backend text).') },
    errors: [],
  },
  'POST /v1/workspaces/{ws}/http': {
    operationId: 'runHttpStep',
    summary: 'Run one HTTP step, inline or persisted into a store',
    tags: ['steps'],
    parameters: [
      { name: 'Prefer', in: 'header', required: false, schema: { type: 'string', example: 'respond-async' }, description: 'respond-async: run the step as a job and answer 202 at once (RFC 7240).' },
      { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 255 }, description: 'A repeat with the same key and body returns the first request\'s job or result; another body is 422.' },
    ],
    responses: {
      200: { description: 'The step result.', content: { 'application/json': { schema: { oneOf: [{ $ref: '#/components/schemas/InlineResult' }, { $ref: '#/components/schemas/PersistedResult' }] } } } },
      202: { description: 'Accepted as a job (Prefer: respond-async); Location names it.', headers: { Location: { schema: { type: 'string' } } }, content: { 'application/json': { schema: { $ref: '#/components/schemas/Job' } } } },
    },
    errors: [...STEP, 'idempotency_key_reused'],
  },
  'POST /v1/workspaces/{ws}/uploads': {
    operationId: 'uploadMultipart',
    summary: 'Upload files (multipart/form-data) into the retained tier, or the ephemeral one (tier field)',
    tags: ['uploads'],
    requestBody: {
      required: true,
      description: 'Form fields apply to the file parts that follow them.',
      content: { 'multipart/form-data': { schema: { type: 'object', properties: Object.fromEntries([...UPLOAD_FIELDS.map((f) => [f, uploadFieldSchema(f)]), ['file', { type: 'string', format: 'binary' }]]) } } },
    },
    parameters: [idempotencyHeader],
    responses: { 201: json('UploadedItems', 'Every file part stored, in order.') },
    errors: [...UPLOAD, 'idempotency_key_reused'],
  },
  'PUT /v1/workspaces/{ws}/uploads/{filename}': {
    operationId: 'uploadRaw',
    summary: 'Upload the raw request body as one file into the retained tier, or the ephemeral one (tier=ephemeral)',
    tags: ['uploads'],
    requestBody: { required: true, content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
    parameters: [idempotencyHeader],
    responses: { 201: json('ResourceRef', 'The stored file.') },
    errors: [...UPLOAD, 'idempotency_key_reused'],
  },
  'GET /v1/resources': { operationId: 'getResource', summary: 'Describe one resource', tags: ['resources'], responses: { 200: json('ResourceRef', 'The resource.') }, errors: READ },
  'DELETE /v1/resources': {
    operationId: 'deleteResource',
    summary: 'Delete one resource (idempotent)',
    tags: ['resources'],
    responses: { 204: { description: 'Deleted, or there was nothing at the URI.' } },
    errors: READ,
  },
  'GET /v1/resources/content': {
    operationId: 'getResourceContent',
    summary: 'Stream the bytes of one resource',
    tags: ['resources'],
    parameters: [rangeHeader],
    responses: { 200: bytes('The whole resource.'), 206: partial },
    errors: [...READ, 'range_not_satisfiable'],
  },
  'POST /v1/resources/url': {
    operationId: 'signResourceUrl',
    summary: 'Mint a signed URL for one resource',
    tags: ['resources'],
    responses: { 200: json('SignedUrl', 'A URL that needs no token until expires-at.') },
    errors: READ,
  },
  'GET /v1/workspaces/{ws}/resources': {
    operationId: 'listResources',
    summary: 'List and search the resources of a workspace',
    tags: ['resources'],
    responses: { 200: json('ListPage', 'One page.') },
    errors: [...API, 'storage_error'],
  },
  ...shareOperations(),
  ...jobOperations(),
  [`GET ${SIGNED_PATH}/{path}`]: {
    operationId: 'getSignedContent',
    summary: 'Stream a resource through a URL blobgate signed (local store)',
    tags: ['resources'],
    public: true,
    parameters: [
      rangeHeader,
      ...['expires', 'signature'].map((name) => ({ name, in: 'query', required: true, schema: { type: 'string' } })),
      ...['download', 'filename'].map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } })),
    ],
    responses: { 200: bytes('The whole resource.'), 206: partial },
    errors: ['invalid_request', 'signature_invalid', 'not_found', 'gone', 'range_not_satisfiable', 'storage_error', 'internal'],
  },
};

type Doc = { paths?: Record<string, Record<string, Record<string, unknown>>>; components?: Record<string, unknown> };

/**
 * The route `${SIGNED_PATH}/*` is a wildcard, which OpenAPI cannot write; the
 * document names it `{path}`: the store, then the object key, as signed.
 */
function renameWildcards(paths: NonNullable<Doc['paths']>): NonNullable<Doc['paths']> {
  const out: NonNullable<Doc['paths']> = {};
  for (const [path, item] of Object.entries(paths)) {
    if (!path.endsWith('/{*}')) {
      out[path] = item;
      continue;
    }
    const renamed: Record<string, Record<string, unknown>> = {};
    for (const [method, op] of Object.entries(item)) {
      const params = (op.parameters as { in: string; name: string }[] | undefined) ?? [];
      const described = { name: 'path', in: 'path', required: true, schema: { type: 'string' }, description: 'Store name and object key, slash-separated, as signed.' };
      renamed[method] = { ...op, parameters: [...params.filter((p) => !(p.in === 'path' && p.name === '*')), described] };
    }
    out[`${path.slice(0, -'/{*}'.length)}/{path}`] = renamed;
  }
  return out;
}

/** @fastify/swagger's transformObject: completes the generated document (see OPERATIONS). */
export function documentOperations({ openapiObject }: { openapiObject: Doc }): Doc {
  const paths = renameWildcards(openapiObject.paths ?? {});
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      const key = `${method.toUpperCase()} ${path}`;
      const doc = OPERATIONS[key];
      if (!doc) throw new Error(`The route ${key} has no entry in src/http/openapi-operations.ts; document it there.`);
      item[method] = {
        operationId: doc.operationId,
        summary: doc.summary,
        tags: doc.tags,
        ...op,
        parameters: [...((op.parameters as unknown[] | undefined) ?? []), ...(doc.parameters ?? []), { $ref: '#/components/parameters/RequestId' }],
        ...(doc.requestBody ? { requestBody: doc.requestBody } : {}),
        responses: withRequestId({ ...doc.responses, ...errorResponses(doc.errors) }),
        ...(doc.public ? { security: [] } : {}),
      };
    }
  }
  return {
    ...openapiObject,
    paths,
    components: { ...openapiObject.components, schemas: COMPONENT_SCHEMAS, parameters: { RequestId: REQUEST_ID_PARAMETER }, headers: { RequestId: REQUEST_ID_RESPONSE_HEADER } },
  };
}

/** Every answer, errors included, carries X-Request-Id (src/http/request-log.ts). */
function withRequestId(responses: Record<string, ResponseObject>): Record<string, ResponseObject> {
  return Object.fromEntries(Object.entries(responses).map(([status, r]) => [status, { ...r, headers: { ...r.headers, 'X-Request-Id': { $ref: '#/components/headers/RequestId' } } }]));
}

const transformObject: SwaggerTransformObject = (document) => {
  if (!('openapiObject' in document)) throw new Error('blobgate documents OpenAPI 3, not Swagger 2.');
  return documentOperations({ openapiObject: document.openapiObject as Doc }) as ReturnType<SwaggerTransformObject>;
};

/** Options of @fastify/swagger for src/app.ts. */
export const OPENAPI_OPTIONS: SwaggerOptions = {
  openapi: {
    // 3.1: its Schema Object is JSON Schema, the dialect the route schemas are written in (numeric exclusiveMinimum, type arrays).
    openapi: '3.1.0',
    info: { title: 'blobgate', version: '0.1.0', description: 'Streaming blob persistence gateway: runs HTTP steps and streams responses into S3, GCS or a local directory.' },
    servers: [{ url: 'http://127.0.0.1:8787', description: 'The embedded default (npm start); a deployment serves the same paths at its own base URL.' }],
    tags: [
      { name: 'steps', description: 'HTTP steps' },
      { name: 'uploads', description: 'Uploads into the retained or the ephemeral tier' },
      { name: 'resources', description: 'Stored resources: describe, read, sign, list, delete' },
      { name: 'shares', description: 'Public share links and their no-login preview pages' },
      { name: 'operations', description: 'Health and readiness' },
    ],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token (README, Secrets and auth).' } } },
    security: [{ bearer: [] }],
  },
  transformObject,
};
