// Buckets and object metadata / listing / media download of the JSON API.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Bucket,
  type State,
  type StoredObject,
  WRITABLE_FIELDS,
  badPreconditionValue,
  baseUrl,
  bucketResource,
  noSuchBucket,
  newGeneration,
  noSuchObject,
  objectFieldsFromJson,
  objectResource,
  parseError,
  parseJsonObject,
  preconditionFailed,
  preconditionsHold,
  readBody,
  sendError,
  sendJson,
  sendMedia,
  validBucketName,
  validObjectName,
} from './common.js';

// ---------------------------------------------------------------- buckets

export function createBucket(state: State, name: string): Bucket {
  let b = state.buckets.get(name);
  if (!b) {
    b = { name, timeCreated: new Date(), objects: new Map() };
    state.buckets.set(name, b);
  }
  return b;
}

export async function handleBuckets(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  bucketName: string | undefined,
): Promise<void> {
  const { data, complete } = await readBody(req);
  if (!complete) return;
  const base = baseUrl(req);
  const method = req.method ?? 'GET';
  if (bucketName === undefined) {
    if (method === 'GET') {
      const items = [...state.buckets.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(b => bucketResource(b, base));
      return sendJson(res, 200, { kind: 'storage#buckets', ...(items.length ? { items } : {}) });
    }
    if (method !== 'POST') return sendError(res, 405, 'Method not allowed', 'methodNotAllowed');
    const j = parseJsonObject(data);
    if (!j) return parseError(res);
    const name = j.name;
    if (typeof name !== 'string' || name === '') return sendError(res, 400, 'Required', 'required');
    if (!validBucketName(name)) return sendError(res, 400, 'Invalid bucket name', 'invalid');
    if (state.buckets.has(name)) {
      return sendError(res, 409, 'Your previous request to create the named bucket succeeded and you already own it.', 'conflict');
    }
    return sendJson(res, 200, bucketResource(createBucket(state, name), base));
  }
  const bucket = state.buckets.get(bucketName);
  if (!bucket) return noSuchBucket(res);
  if (method === 'GET' || method === 'HEAD') return sendJson(res, 200, bucketResource(bucket, base));
  if (method === 'DELETE') {
    if (bucket.objects.size > 0) return sendError(res, 409, 'The bucket you tried to delete is not empty.', 'conflict');
    state.buckets.delete(bucketName);
    res.writeHead(204);
    return void res.end();
  }
  sendError(res, 405, 'Method not allowed', 'methodNotAllowed');
}

// ---------------------------------------------------------------- list

interface PageToken {
  k: string; // last key returned (object name or prefix)
  p: boolean; // whether that key was a prefix
}

export function handleList(state: State, req: IncomingMessage, res: ServerResponse, bucketName: string, q: URLSearchParams): void {
  const bucket = state.buckets.get(bucketName);
  if (!bucket) return noSuchBucket(res);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const startOffset = q.get('startOffset') ?? '';
  const endOffset = q.get('endOffset');
  const maxRaw = q.get('maxResults');
  if (maxRaw !== null && !/^\d+$/.test(maxRaw)) return sendError(res, 400, 'Invalid value for maxResults', 'invalid');
  const max = maxRaw === null || Number(maxRaw) === 0 ? 1000 : Math.min(Number(maxRaw), 1000);
  let token: PageToken | undefined;
  const rawToken = q.get('pageToken');
  if (rawToken) {
    try {
      token = JSON.parse(Buffer.from(rawToken, 'base64url').toString('utf8')) as PageToken;
      if (typeof token.k !== 'string') throw new Error('bad token');
    } catch {
      return sendError(res, 400, 'Invalid page token', 'invalid');
    }
  }
  // Lexicographic by UTF-8 bytes, as GCS orders names.
  const names = [...bucket.objects.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const base = baseUrl(req);
  const items: Record<string, unknown>[] = [];
  const prefixes: string[] = [];
  let last: PageToken | undefined;
  let more = false;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    if (startOffset && name < startOffset) continue;
    if (endOffset !== null && endOffset !== '' && name >= endOffset) continue;
    if (token && (name <= token.k || (token.p && name.startsWith(token.k)))) continue;
    let key = name;
    let isPrefix = false;
    if (delimiter) {
      const i = name.indexOf(delimiter, prefix.length);
      if (i >= 0) {
        key = name.slice(0, i + delimiter.length);
        isPrefix = true;
      }
    }
    if (isPrefix && last?.p && last.k === key) continue; // same prefix as the previous entry
    if (items.length + prefixes.length >= max) {
      more = true;
      break;
    }
    if (isPrefix) prefixes.push(key);
    else items.push(objectResource(bucket.objects.get(name)!, base));
    last = { k: key, p: isPrefix };
  }
  const body: Record<string, unknown> = { kind: 'storage#objects' };
  if (more && last) body.nextPageToken = Buffer.from(JSON.stringify(last)).toString('base64url');
  if (prefixes.length) body.prefixes = prefixes;
  if (items.length) body.items = items;
  sendJson(res, 200, body);
}

// ---------------------------------------------------------------- single object

/** GET/HEAD/PATCH/PUT/DELETE /storage/v1/b/:bucket/o/:object (and the /b/… and /download/… forms). */
export async function handleObject(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  bucketName: string,
  name: string,
  q: URLSearchParams,
  forceMedia = false,
): Promise<void> {
  const { data, complete } = await readBody(req);
  if (!complete) return;
  const bucket = state.buckets.get(bucketName);
  if (!bucket) return noSuchBucket(res);
  const bad = badPreconditionValue(q);
  if (bad) return sendError(res, 400, `Invalid argument for ${bad}.`, 'invalid');
  let obj = bucket.objects.get(name);
  const gen = q.get('generation');
  if (obj && gen !== null && gen !== String(obj.generation)) obj = undefined; // only the live generation is kept
  if (!obj) return noSuchObject(res, bucketName, name);
  if (!preconditionsHold(q, obj)) return preconditionFailed(res);
  const method = req.method ?? 'GET';
  const base = baseUrl(req);

  if (method === 'GET' || method === 'HEAD') {
    if (forceMedia || q.get('alt') === 'media') {
      return sendMedia(req, res, obj, {}, () =>
        sendError(res, 416, 'The requested range cannot be satisfied.', 'requestedRangeNotSatisfiable', {}, {
          'Content-Range': `bytes */${obj.data.length}`,
        }),
      );
    }
    return sendJson(res, 200, objectResource(obj, base));
  }
  if (method === 'DELETE') {
    bucket.objects.delete(name);
    res.writeHead(204, { 'Content-Length': 0 });
    return void res.end();
  }
  if (method === 'PATCH' || method === 'PUT') {
    const j = parseJsonObject(data);
    if (!j) return parseError(res);
    const err = applyPatch(obj, j, method === 'PUT');
    if (err) return sendError(res, 400, err, 'invalid');
    return sendJson(res, 200, objectResource(obj, base));
  }
  sendError(res, 405, 'Method not allowed', 'methodNotAllowed');
}

/**
 * PATCH is a JSON merge: absent fields stay, `null` clears a field, and inside `metadata`
 * a key set to null is deleted while other keys are added/replaced.
 * PUT (objects.update) replaces all writable fields and the whole metadata map.
 */
function applyPatch(obj: StoredObject, j: Record<string, unknown>, replace: boolean): string | undefined {
  const fields = replace ? {} : { ...obj.fields };
  for (const f of WRITABLE_FIELDS) {
    if (!(f in j)) continue;
    const v = j[f];
    if (v === null) delete fields[f];
    else if (typeof v === 'string') fields[f] = v;
    else return `Invalid value for ${f}`;
  }
  let metadata = replace ? {} : { ...obj.metadata };
  if ('metadata' in j) {
    const m = j.metadata;
    if (m === null) metadata = {};
    else if (typeof m !== 'object' || Array.isArray(m)) return 'Invalid value for metadata';
    else {
      for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
        if (v === null) delete metadata[k];
        else metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
      }
    }
  }
  // Read-only fields in the body (name, size, md5Hash, …) are ignored, as GCS does.
  obj.fields = fields;
  obj.metadata = metadata;
  obj.metageneration += 1;
  obj.updated = new Date();
  return undefined;
}

// ---------------------------------------------------------------- rewrite (server-side copy)

/**
 * POST /storage/v1/b/:srcBucket/o/:src/rewriteTo/b/:destBucket/o/:dest — what File.copy sends.
 * The copy is done in one call (`done: true`, no rewriteToken), as GCS does within one
 * location and storage class. Preconditions (ifGenerationMatch …) apply to the destination,
 * `sourceGeneration` pins the source. A destination resource in the body (contentType,
 * metadata, …) replaces the source's fields and custom metadata; an empty body copies them.
 */
export async function handleRewrite(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  from: { bucket: string; name: string },
  to: { bucket: string; name: string },
  q: URLSearchParams,
): Promise<void> {
  const { data, complete } = await readBody(req);
  if (!complete) return;
  const srcBucket = state.buckets.get(from.bucket);
  const destBucket = state.buckets.get(to.bucket);
  if (!srcBucket || !destBucket) return noSuchBucket(res);
  const bad = badPreconditionValue(q);
  if (bad) return sendError(res, 400, `Invalid argument for ${bad}.`, 'invalid');
  let src = srcBucket.objects.get(from.name);
  const sourceGeneration = q.get('sourceGeneration');
  if (src && sourceGeneration !== null && sourceGeneration !== String(src.generation)) src = undefined;
  if (!src) return noSuchObject(res, from.bucket, from.name);
  if (!validObjectName(to.name)) return sendError(res, 400, 'The specified object name is not valid.', 'invalid');
  if (!preconditionsHold(q, destBucket.objects.get(to.name))) return preconditionFailed(res);
  const j = parseJsonObject(data);
  if (!j) return parseError(res);
  const given = objectFieldsFromJson(j);
  if (typeof given === 'string') return sendError(res, 400, given, 'invalid');
  const replace = Object.keys(given.fields).length > 0 || 'metadata' in j;
  const now = new Date();
  const obj: StoredObject = {
    ...src,
    bucket: to.bucket,
    name: to.name,
    generation: newGeneration(state),
    metageneration: 1,
    fields: replace ? given.fields : { ...src.fields },
    metadata: replace ? given.metadata : { ...src.metadata },
    timeCreated: now,
    updated: now,
  };
  destBucket.objects.set(to.name, obj);
  sendJson(res, 200, {
    kind: 'storage#rewriteResponse',
    totalBytesRewritten: String(obj.size),
    objectSize: String(obj.size),
    done: true,
    resource: objectResource(obj, baseUrl(req)),
  });
}
