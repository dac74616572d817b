// objects.compose: POST /storage/v1/b/:bucket/o/:destination/compose — server-side
// concatenation of up to 32 objects of one bucket into one (Bucket.combine, and
// blobgate's parallel composite uploads, src/storage/gcs/gcs-compose.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type State,
  type StoredObject,
  badPreconditionValue,
  baseUrl,
  newGeneration,
  noSuchBucket,
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
  validObjectName,
} from './common.js';
import { crc32cCombine, crc32cFromBase64, crc32cToBase64 } from './crc32c.js';

/** GCS's limits: sources per compose request, and non-composite components per composite object. */
export const MAX_COMPOSE_SOURCES = 32;
export const MAX_COMPONENT_COUNT = 1024;

interface Source {
  name: string;
  generation?: number;
  ifGenerationMatch?: number;
}

/**
 * What GCS does, as far as the clients can tell:
 * - the body is a ComposeRequest `{destination?, sourceObjects: [{name, generation?,
 *   objectPreconditions?: {ifGenerationMatch}}]}`; 1 to 32 sources, all in the bucket;
 * - a source that does not exist, or not at the `generation` given, is 404; one whose
 *   live generation fails its `objectPreconditions.ifGenerationMatch` is 412, as are the
 *   destination's preconditions in the query (ifGenerationMatch=0: only if absent);
 * - the result is a new generation of the destination holding the sources' bytes in
 *   order, with the destination resource's fields and custom metadata (nothing is taken
 *   from the sources), a CRC32C computed from the sources' CRC32Cs (no byte is reread),
 *   no MD5, and `componentCount` = the sum of the sources' component counts (a
 *   non-composite object counts 1), at most 1024;
 * - the sources are left as they are.
 */
export async function handleCompose(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  bucketName: string,
  destName: string,
  q: URLSearchParams,
): Promise<void> {
  const { data, complete } = await readBody(req);
  if (!complete) return;
  const bucket = state.buckets.get(bucketName);
  if (!bucket) return noSuchBucket(res);
  const bad = badPreconditionValue(q);
  if (bad) return sendError(res, 400, `Invalid argument for ${bad}.`, 'invalid');
  if (!validObjectName(destName)) return sendError(res, 400, 'The specified object name is not valid.', 'invalid');
  const j = parseJsonObject(data);
  if (!j) return parseError(res);
  const sources = parseSources(j.sourceObjects);
  if (typeof sources === 'string') return sendError(res, 400, sources, sources.startsWith('Required') ? 'required' : 'invalid');
  if (sources.length > MAX_COMPOSE_SOURCES) {
    return sendError(res, 400, `The number of source components provided (${sources.length}) exceeds the maximum (${MAX_COMPOSE_SOURCES}).`, 'invalid');
  }
  const destination = j.destination ?? {};
  if (typeof destination !== 'object' || destination === null || Array.isArray(destination)) return sendError(res, 400, 'Invalid value for destination', 'invalid');
  const given = objectFieldsFromJson(destination as Record<string, unknown>);
  if (typeof given === 'string') return sendError(res, 400, given, 'invalid');

  const parts: StoredObject[] = [];
  for (const s of sources) {
    let obj = bucket.objects.get(s.name);
    if (obj && s.generation !== undefined && s.generation !== obj.generation) obj = undefined;
    if (!obj) return noSuchObject(res, bucketName, s.name);
    if (s.ifGenerationMatch !== undefined && s.ifGenerationMatch !== obj.generation) return preconditionFailed(res);
    parts.push(obj);
  }
  if (!preconditionsHold(q, bucket.objects.get(destName))) return preconditionFailed(res);
  const componentCount = parts.reduce((n, p) => n + (p.componentCount ?? 1), 0);
  if (componentCount > MAX_COMPONENT_COUNT) {
    return sendError(res, 400, `The number of components in the composite object (${componentCount}) would exceed the maximum (${MAX_COMPONENT_COUNT}).`, 'invalid');
  }
  let crc = 0;
  for (const p of parts) crc = crc32cCombine(crc, crc32cFromBase64(p.crc32c), p.size);
  const pieces = parts.flatMap((p) => p.data); // the components' pieces, shared: stored objects are never mutated
  const now = new Date();
  const obj: StoredObject = {
    bucket: bucketName,
    name: destName,
    data: pieces,
    size: parts.reduce((n, p) => n + p.size, 0),
    generation: newGeneration(state),
    metageneration: 1,
    fields: given.fields,
    metadata: given.metadata,
    storageClass: parts[0]!.storageClass,
    timeCreated: now,
    updated: now,
    crc32c: crc32cToBase64(crc),
    componentCount,
  };
  bucket.objects.set(destName, obj);
  sendJson(res, 200, objectResource(obj, baseUrl(req)));
}

function parseSources(v: unknown): Source[] | string {
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return 'Required: sourceObjects';
  if (!Array.isArray(v)) return 'Invalid value for sourceObjects';
  const out: Source[] = [];
  for (const [i, raw] of v.entries()) {
    const s = raw as { name?: unknown; generation?: unknown; objectPreconditions?: { ifGenerationMatch?: unknown } } | null;
    if (typeof s !== 'object' || s === null || typeof s.name !== 'string' || s.name === '') return `Required: sourceObjects[${i}].name`;
    const generation = int(s.generation);
    const ifGenerationMatch = int(s.objectPreconditions?.ifGenerationMatch);
    if (generation === null || ifGenerationMatch === null) return `Invalid value for sourceObjects[${i}]`;
    if (generation !== undefined && ifGenerationMatch !== undefined && generation !== ifGenerationMatch) {
      return `sourceObjects[${i}]: generation and objectPreconditions.ifGenerationMatch differ`;
    }
    out.push({ name: s.name, ...(generation === undefined ? {} : { generation }), ...(ifGenerationMatch === undefined ? {} : { ifGenerationMatch }) });
  }
  return out;
}

/** A JSON int64 (number or decimal string); null when malformed. */
function int(v: unknown): number | undefined | null {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return null;
}
