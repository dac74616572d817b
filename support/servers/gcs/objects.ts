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

/**
 * Bucket metadata a client can change (buckets.patch), kept beside the Bucket
 * record: the metageneration (which each patch bumps, as GCS does, and which
 * ifMetagenerationMatch compares) and the lifecycle configuration.
 */
interface BucketSettings {
  metageneration: number;
  updated: Date;
  lifecycle?: { rule: Record<string, unknown>[] };
}

const settings = new WeakMap<Bucket, BucketSettings>();

function settingsOf(b: Bucket): BucketSettings {
  let s = settings.get(b);
  if (!s) {
    s = { metageneration: 1, updated: b.timeCreated };
    settings.set(b, s);
  }
  return s;
}

/** The bucket resource, with what buckets.patch changed. `lifecycle` appears only when the bucket has rules, as on GCS. */
function resourceOf(b: Bucket, base: string): Record<string, unknown> {
  const s = settingsOf(b);
  return {
    ...bucketResource(b, base),
    metageneration: String(s.metageneration),
    // Bucket etags are base64 of a tiny protobuf {1: metageneration} ("CAE=" for 1).
    etag: Buffer.from([0x08, ...varint(s.metageneration)]).toString('base64'),
    updated: s.updated.toISOString(),
    ...(s.lifecycle ? { lifecycle: structuredClone(s.lifecycle) } : {}),
  };
}

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** The bucket's lifecycle configuration as stored (a copy), or undefined when it has none. */
export function bucketLifecycle(state: State, name: string): { rule: Record<string, unknown>[] } | undefined {
  const b = state.buckets.get(name);
  const lifecycle = b ? settingsOf(b).lifecycle : undefined;
  return lifecycle ? structuredClone(lifecycle) : undefined;
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
      const items = [...state.buckets.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(b => resourceOf(b, base));
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
    return sendJson(res, 200, resourceOf(createBucket(state, name), base));
  }
  const bucket = state.buckets.get(bucketName);
  if (!bucket) return noSuchBucket(res);
  if (method === 'GET' || method === 'HEAD') return sendJson(res, 200, resourceOf(bucket, base));
  if (method === 'PATCH') return patchBucket(req, res, bucket, data, base);
  if (method === 'DELETE') {
    if (bucket.objects.size > 0) return sendError(res, 409, 'The bucket you tried to delete is not empty.', 'conflict');
    state.buckets.delete(bucketName);
    res.writeHead(204);
    return void res.end();
  }
  sendError(res, 405, 'Method not allowed', 'methodNotAllowed');
}

/**
 * buckets.patch: a JSON merge of the fields given. Only `lifecycle` is
 * modelled (`null`, `{}` or an empty rule list removes it); other fields in
 * the body are accepted and left as they are. ifMetagenerationMatch /
 * ifMetagenerationNotMatch are honoured (412 conditionNotMet), and every
 * patch bumps the metageneration.
 */
function patchBucket(req: IncomingMessage, res: ServerResponse, bucket: Bucket, data: Buffer, base: string): void {
  const q = new URL(req.url ?? '/', 'http://x').searchParams;
  const s = settingsOf(bucket);
  for (const [k, equal] of [['ifMetagenerationMatch', true], ['ifMetagenerationNotMatch', false]] as const) {
    const v = q.get(k);
    if (v === null) continue;
    if (!/^\d+$/.test(v)) return sendError(res, 400, `Invalid argument for ${k}.`, 'invalid');
    if ((Number(v) === s.metageneration) !== equal) return preconditionFailed(res);
  }
  const j = parseJsonObject(data);
  if (!j) return parseError(res);
  if ('lifecycle' in j) {
    const lifecycle = lifecycleFromJson(j.lifecycle);
    if (typeof lifecycle === 'string') return sendError(res, 400, lifecycle, 'invalid');
    if (lifecycle === undefined) delete s.lifecycle;
    else s.lifecycle = lifecycle;
  }
  s.metageneration += 1;
  s.updated = new Date();
  sendJson(res, 200, resourceOf(bucket, base));
}

const LIFECYCLE_ACTIONS = ['Delete', 'SetStorageClass', 'AbortIncompleteMultipartUpload'];
const INTEGER_CONDITIONS = ['age', 'numNewerVersions', 'daysSinceNoncurrentTime', 'daysSinceCustomTime'];
const LIST_CONDITIONS = ['matchesPrefix', 'matchesSuffix', 'matchesStorageClass'];
const OTHER_CONDITIONS = ['createdBefore', 'customTimeBefore', 'noncurrentTimeBefore', 'isLive'];

/** A lifecycle configuration checked the way GCS checks the parts the clients send; an error message when invalid. */
function lifecycleFromJson(v: unknown): { rule: Record<string, unknown>[] } | undefined | string {
  if (v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) return 'Invalid value for lifecycle';
  const rules = (v as { rule?: unknown }).rule;
  if (rules === undefined || rules === null) return undefined;
  if (!Array.isArray(rules)) return 'Invalid value for lifecycle.rule';
  if (rules.length === 0) return undefined;
  if (rules.length > 100) return 'The bucket lifecycle configuration can have at most 100 rules.';
  for (const [i, r] of rules.entries()) {
    const rule = r as { action?: { type?: unknown; storageClass?: unknown }; condition?: Record<string, unknown> } | null;
    if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) return `Invalid value for lifecycle.rule[${i}]`;
    const { action, condition } = rule;
    if (typeof action !== 'object' || action === null || !LIFECYCLE_ACTIONS.includes(String(action.type))) {
      return `Invalid value for lifecycle.rule[${i}].action.type`;
    }
    if (action.type === 'SetStorageClass' && typeof action.storageClass !== 'string') return `Required lifecycle.rule[${i}].action.storageClass`;
    if (typeof condition !== 'object' || condition === null || Array.isArray(condition) || Object.keys(condition).length === 0) {
      return `A lifecycle rule must have at least one condition (lifecycle.rule[${i}].condition).`;
    }
    for (const [k, c] of Object.entries(condition)) {
      const ok = INTEGER_CONDITIONS.includes(k)
        ? Number.isSafeInteger(c) && (c as number) >= 0
        : LIST_CONDITIONS.includes(k)
          ? Array.isArray(c) && c.length > 0 && c.every(x => typeof x === 'string')
          : OTHER_CONDITIONS.includes(k);
      if (!ok) return `Invalid value for lifecycle.rule[${i}].condition.${k}`;
    }
  }
  return { rule: structuredClone(rules) as Record<string, unknown>[] };
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
          'Content-Range': `bytes */${obj.size}`,
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
