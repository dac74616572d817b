// Uploads: resumable sessions, multipart/related and media uploads.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import {
  type State,
  type StoredObject,
  type UploadSession,
  type WritableField,
  badPreconditionValue,
  baseUrl,
  IncrementalHashes,
  hashesOf,
  newGeneration,
  noSuchBucket,
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

export interface NewObject {
  fields: Partial<Record<WritableField, string>>;
  metadata: Record<string, string>;
  storageClass?: string;
  expectCrc32c?: string;
  expectMd5?: string;
}

/** Parses `X-Goog-Hash: crc32c=…,md5=…` as sent by the clients on the final request. */
export function parseGoogHash(h: string | string[] | undefined): { crc32c?: string; md5?: string } {
  const out: { crc32c?: string; md5?: string } = {};
  for (const part of (Array.isArray(h) ? h.join(',') : (h ?? '')).split(',')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim().toLowerCase();
    if (k === 'crc32c' || k === 'md5') out[k] = part.slice(i + 1).trim();
  }
  return out;
}

/**
 * Creates the object (new generation) after all checks real GCS makes at finalization:
 * bucket still there, preconditions, client-declared checksums. Writes the error itself
 * and returns undefined on failure.
 */
export function commitObject(
  state: State,
  res: ServerResponse,
  bucketName: string,
  name: string,
  data: Buffer | Buffer[],
  meta: NewObject,
  preconditions: URLSearchParams,
  googHash: { crc32c?: string; md5?: string },
  /** The hashes of `data` when the caller computed them as the bytes arrived. */
  hashes?: { md5: string; crc32c: string },
): StoredObject | undefined {
  const bucket = state.buckets.get(bucketName);
  if (!bucket) return void noSuchBucket(res);
  if (!preconditionsHold(preconditions, bucket.objects.get(name))) return void preconditionFailed(res);
  const h = hashes ?? hashesOf(data);
  const pieces = Array.isArray(data) ? data : [data];
  const wantCrc = googHash.crc32c ?? meta.expectCrc32c;
  const wantMd5 = googHash.md5 ?? meta.expectMd5;
  if (wantCrc !== undefined && wantCrc !== h.crc32c) {
    const msg = `Provided CRC32C "${wantCrc}" doesn't match calculated CRC32C "${h.crc32c}".`;
    return void sendError(res, 400, msg, 'invalid');
  }
  if (wantMd5 !== undefined && wantMd5 !== h.md5) {
    const msg = `Provided MD5 hash "${wantMd5}" doesn't match calculated MD5 hash "${h.md5}".`;
    return void sendError(res, 400, msg, 'invalid');
  }
  const now = new Date();
  const obj: StoredObject = {
    bucket: bucketName,
    name,
    data: pieces,
    size: pieces.reduce((n, b) => n + b.length, 0),
    generation: newGeneration(state),
    metageneration: 1,
    fields: { ...meta.fields },
    metadata: { ...meta.metadata },
    storageClass: meta.storageClass ?? 'STANDARD',
    timeCreated: now,
    updated: now,
    ...h,
  };
  bucket.objects.set(name, obj);
  return obj;
}

function newObjectFromJson(j: Record<string, unknown>, res: ServerResponse): NewObject | undefined {
  const f = objectFieldsFromJson(j);
  if (typeof f === 'string') return void sendError(res, 400, f, 'invalid');
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return {
    ...f,
    storageClass: str(j.storageClass),
    expectCrc32c: str(j.crc32c),
    expectMd5: str(j.md5Hash),
  };
}

/** Common checks before any upload: bucket, name, precondition syntax, current preconditions. */
function checkUploadTarget(
  state: State,
  res: ServerResponse,
  bucketName: string,
  name: string | undefined,
  q: URLSearchParams,
): name is string {
  const bucket = state.buckets.get(bucketName);
  if (!bucket) return noSuchBucket(res), false;
  if (name === undefined || name === '') return sendError(res, 400, 'Required', 'required'), false;
  if (!validObjectName(name)) return sendError(res, 400, 'The specified object name is not valid.', 'invalid'), false;
  const bad = badPreconditionValue(q);
  if (bad) return sendError(res, 400, `Invalid argument for ${bad}.`, 'invalid'), false;
  if (!preconditionsHold(q, bucket.objects.get(name))) return preconditionFailed(res), false;
  return true;
}

// ---------------------------------------------------------------- POST /upload/storage/v1/b/:bucket/o

export async function handleUploadStart(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  bucketName: string,
  q: URLSearchParams,
): Promise<void> {
  const uploadType = q.get('uploadType');
  const { data, complete } = await readBody(req);
  if (!complete) return;
  if (uploadType === 'resumable') return startResumable(state, req, res, bucketName, q, data);
  if (uploadType === 'multipart') return multipartUpload(state, req, res, bucketName, q, data);
  if (uploadType === 'media') {
    const name = q.get('name') ?? undefined;
    if (!checkUploadTarget(state, res, bucketName, name, q)) return;
    const ct = req.headers['content-type'];
    const meta: NewObject = { fields: ct ? { contentType: ct } : {}, metadata: {} };
    const obj = commitObject(state, res, bucketName, name, data, meta, q, parseGoogHash(req.headers['x-goog-hash']));
    if (obj) sendJson(res, 200, objectResource(obj, baseUrl(req)));
    return;
  }
  sendError(res, 400, `Invalid upload type: ${uploadType ?? '(none)'}`, 'invalidParameter', {
    locationType: 'parameter',
    location: 'uploadType',
  });
}

function startResumable(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  bucketName: string,
  q: URLSearchParams,
  body: Buffer,
): void {
  const j = parseJsonObject(body);
  if (!j) return parseError(res);
  // The name may come from the query string or the JSON metadata (query wins, as in GCS).
  const name = q.get('name') ?? (typeof j.name === 'string' ? j.name : undefined);
  if (!checkUploadTarget(state, res, bucketName, name, q)) return;
  const meta = newObjectFromJson(j, res);
  if (!meta) return;
  const xct = req.headers['x-upload-content-type'];
  if (meta.fields.contentType === undefined && typeof xct === 'string' && xct) meta.fields.contentType = xct;
  const xlen = req.headers['x-upload-content-length'];
  let declaredLength: number | undefined;
  if (typeof xlen === 'string' && xlen !== '') {
    if (!/^\d+$/.test(xlen)) return sendError(res, 400, 'Invalid X-Upload-Content-Length', 'invalid');
    declaredLength = Number(xlen);
  }
  const id = randomBytes(24).toString('base64url');
  const session: UploadSession = {
    id,
    bucket: bucketName,
    name,
    ...meta,
    declaredLength,
    preconditions: new URLSearchParams(q),
    chunks: [],
    received: 0,
    hashes: new IncrementalHashes(),
    state: 'open',
  };
  state.sessions.set(id, session);
  // Same shape as GCS: the upload URL plus upload_id; the client uses it verbatim.
  const location =
    `${baseUrl(req)}/upload/storage/v1/b/${encodeURIComponent(bucketName)}/o?uploadType=resumable` +
    `&name=${encodeURIComponent(name)}&upload_id=${id}`;
  res.writeHead(200, { Location: location, 'X-GUploader-UploadID': id, 'Content-Length': 0 });
  res.end();
}

// ---------------------------------------------------------------- multipart/related

interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

/** Parses a multipart/related body; parts may come without any header lines (rclone). */
export function parseMultipart(body: Buffer, boundary: string): Part[] | undefined {
  const delim = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let pos = body.indexOf(delim);
  if (pos < 0) return undefined;
  for (;;) {
    pos += delim.length;
    if (body.subarray(pos, pos + 2).toString() === '--') return parts; // close delimiter
    const lineEnd = body.indexOf('\r\n', pos);
    if (lineEnd < 0) return undefined;
    pos = lineEnd + 2; // transport padding after the boundary is ignored
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), pos);
    if (next < 0) return undefined;
    const raw = body.subarray(pos, next);
    let headerBlock = '';
    let content: Buffer;
    if (raw.subarray(0, 2).toString() === '\r\n') {
      content = raw.subarray(2); // no header lines
    } else {
      const sep = raw.indexOf('\r\n\r\n');
      if (sep < 0) return undefined;
      headerBlock = raw.subarray(0, sep).toString('latin1');
      content = raw.subarray(sep + 4);
    }
    const headers: Record<string, string> = {};
    for (const line of headerBlock.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: content });
    pos = next + 2;
  }
}

function multipartUpload(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  bucketName: string,
  q: URLSearchParams,
  body: Buffer,
): void {
  const ct = req.headers['content-type'] ?? '';
  const bm = /^multipart\/related\s*;.*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(ct);
  if (!bm) return sendError(res, 400, 'Invalid multipart request: bad Content-Type', 'invalid');
  const parts = parseMultipart(body, (bm[1] ?? bm[2])!);
  if (!parts) return sendError(res, 400, 'Invalid multipart request', 'invalid');
  if (parts.length !== 2) return sendError(res, 400, `Invalid multipart request with ${parts.length} mime parts.`, 'invalid');
  const [metaPart, mediaPart] = parts as [Part, Part];
  const j = parseJsonObject(metaPart.body);
  if (!j) return parseError(res);
  const name = q.get('name') ?? (typeof j.name === 'string' ? j.name : undefined);
  if (!checkUploadTarget(state, res, bucketName, name, q)) return;
  const meta = newObjectFromJson(j, res);
  if (!meta) return;
  const mediaType = mediaPart.headers['content-type'];
  if (meta.fields.contentType === undefined && mediaType) meta.fields.contentType = mediaType;
  const obj = commitObject(state, res, bucketName, name, mediaPart.body, meta, q, parseGoogHash(req.headers['x-goog-hash']));
  if (obj) sendJson(res, 200, objectResource(obj, baseUrl(req)));
}
