// Shared state, resource shapes and HTTP helpers of the GCS JSON-API test server.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32cToBase64, crc32cUpdate } from './crc32c.js';
import type { FaultPlan } from '../faults.js';
import type { GcsOperation } from './operations.js';

/** Object fields a client may set on insert / patch (besides `metadata`). */
export const WRITABLE_FIELDS = [
  'contentType',
  'contentEncoding',
  'contentDisposition',
  'contentLanguage',
  'cacheControl',
  'customTime',
] as const;
export type WritableField = (typeof WRITABLE_FIELDS)[number];

export interface StoredObject {
  bucket: string;
  name: string;
  /**
   * The bytes, as the pieces they arrived in (never copied into one buffer:
   * a 1 GiB Buffer.concat cost this server 5 s on the benchmark machine,
   * during which every client waited for the last chunk's answer). Never
   * mutated; a rewrite or compose shares them.
   */
  data: Buffer[];
  size: number; // kept apart from data: finalized sessions keep a data-less copy for status queries
  generation: number;
  metageneration: number;
  fields: Partial<Record<WritableField, string>>;
  metadata: Record<string, string>;
  storageClass: string;
  timeCreated: Date;
  updated: Date;
  /** base64; absent on a composite object (compose), as on GCS. */
  md5?: string;
  crc32c: string; // base64, big-endian
  /** Set on a composite object: how many non-composite objects it is made of (GCS caps it at 1024). */
  componentCount?: number;
}

export interface Bucket {
  name: string;
  timeCreated: Date;
  objects: Map<string, StoredObject>;
}

export interface UploadSession {
  id: string;
  bucket: string;
  name: string;
  /** Object resource fields from the initiation request (JSON body + X-Upload-Content-Type). */
  fields: Partial<Record<WritableField, string>>;
  metadata: Record<string, string>;
  storageClass?: string;
  /** Hashes the client put into the initiation metadata, checked at finalization. */
  expectCrc32c?: string;
  expectMd5?: string;
  declaredLength?: number; // X-Upload-Content-Length
  preconditions: URLSearchParams;
  chunks: Buffer[];
  received: number;
  /** MD5 and CRC32C of `chunks`, updated as bytes arrive, so finalizing a large upload hashes nothing more. */
  hashes: IncrementalHashes;
  state: 'open' | 'final' | 'cancelled';
  object?: StoredObject;
}

export interface State {
  buckets: Map<string, Bucket>;
  sessions: Map<string, UploadSession>;
  lastGeneration: number;
  signing?: { publicKeyPem: string; clientEmail?: string };
  /** Fault injection per operation kind (GcsTestServer.fail, dropRewrites). */
  faults: FaultPlan<GcsOperation>;
  /** Faults that strike after the request was carried out: its answer is lost (GcsTestServer.failAfter). */
  lateFaults: FaultPlan<GcsOperation>;
  /** Requests in progress per operation kind, and the most at once (GcsTestServer.peakConcurrency). */
  active: Map<GcsOperation, number>;
  peaks: Map<GcsOperation, number>;
  /** Requests seen per operation kind (GcsTestServer.requestCount). */
  counts: Map<GcsOperation, number>;
  /** Operation kinds whose requests wait before they are carried out (GcsTestServer.hold). */
  holds: Map<GcsOperation, { wait(): Promise<void> }>;
  /** Chunk requests to cut after some bytes of their body (GcsTestServer.cutChunk). */
  cuts: ChunkCut[];
}

export interface ChunkCut {
  bytes: number;
  skip: number;
  times: number;
  hits: number;
}

/** The cut for this chunk request, if one is armed: how many bytes of its body arrive before the connection is cut. */
export function takeCut(state: State): number | undefined {
  const c = state.cuts.find((x) => x.times > 0);
  if (!c) return undefined;
  if (c.skip > 0) return void c.skip--;
  c.times--;
  c.hits++;
  return c.bytes;
}

export function newGeneration(state: State): number {
  // Real GCS generations are microsecond timestamps; keep them strictly increasing.
  state.lastGeneration = Math.max(Date.now() * 1000, state.lastGeneration + 1);
  return state.lastGeneration;
}

export function hashesOf(data: Buffer | Buffer[]): { md5: string; crc32c: string } {
  const h = new IncrementalHashes();
  for (const b of Array.isArray(data) ? data : [data]) h.update(b);
  return h.digest();
}

/** MD5 and CRC32C over bytes as they arrive; `copy()` keeps a state to go back to. */
export class IncrementalHashes {
  constructor(
    private md5 = createHash('md5'),
    private crc = 0,
  ) {}

  update(b: Buffer): void {
    this.md5.update(b);
    this.crc = crc32cUpdate(b, this.crc);
  }

  copy(): IncrementalHashes {
    return new IncrementalHashes(this.md5.copy(), this.crc);
  }

  digest(): { md5: string; crc32c: string } {
    return { md5: this.md5.copy().digest('base64'), crc32c: crc32cToBase64(this.crc) };
  }
}

function varint(n: bigint): number[] {
  const out: number[] = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) b |= 0x80;
    out.push(b);
  } while (n > 0n);
  return out;
}

/** GCS object etags are base64 of a tiny protobuf {1: generation, 2: metageneration}. */
export function etagOf(generation: number, metageneration: number): string {
  return Buffer.from([0x08, ...varint(BigInt(generation)), 0x10, ...varint(BigInt(metageneration))]).toString(
    'base64',
  );
}

export function baseUrl(req: IncomingMessage): string {
  return `http://${req.headers.host ?? '127.0.0.1'}`;
}

export function objectResource(o: StoredObject, base: string): Record<string, unknown> {
  const enc = encodeURIComponent(o.name);
  const r: Record<string, unknown> = {
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${base}/storage/v1/b/${o.bucket}/o/${enc}`,
    mediaLink: `${base}/download/storage/v1/b/${o.bucket}/o/${enc}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: String(o.generation),
    metageneration: String(o.metageneration),
    contentType: o.fields.contentType ?? 'application/octet-stream',
    storageClass: o.storageClass,
    size: String(o.size),
    ...(o.md5 === undefined ? {} : { md5Hash: o.md5 }),
    crc32c: o.crc32c,
    ...(o.componentCount === undefined ? {} : { componentCount: o.componentCount }),
    etag: etagOf(o.generation, o.metageneration),
    timeCreated: o.timeCreated.toISOString(),
    updated: o.updated.toISOString(),
    timeStorageClassUpdated: o.timeCreated.toISOString(),
  };
  for (const f of WRITABLE_FIELDS) if (f !== 'contentType' && o.fields[f] !== undefined) r[f] = o.fields[f];
  if (Object.keys(o.metadata).length > 0) r.metadata = { ...o.metadata };
  return r;
}

export function bucketResource(b: Bucket, base: string): Record<string, unknown> {
  return {
    kind: 'storage#bucket',
    selfLink: `${base}/storage/v1/b/${b.name}`,
    id: b.name,
    name: b.name,
    projectNumber: '000000000000',
    metageneration: '1',
    location: 'US',
    storageClass: 'STANDARD',
    etag: 'CAE=',
    timeCreated: b.timeCreated.toISOString(),
    updated: b.timeCreated.toISOString(),
    locationType: 'multi-region',
  };
}

// ---------------------------------------------------------------- responses

export const JSON_TYPE = 'application/json; charset=UTF-8';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | number> = {},
): void {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'Content-Type': JSON_TYPE,
    'Content-Length': buf.length,
    'Cache-Control': 'no-cache, no-store, max-age=0, must-revalidate',
    ...headers,
  });
  res.end(buf);
}

/** GCS JSON-API error body: {"error":{"code","message","errors":[{message,domain,reason,…}]}}. */
export function sendError(
  res: ServerResponse,
  code: number,
  message: string,
  reason: string,
  extra: Record<string, string> = {},
  headers: Record<string, string | number> = {},
): void {
  sendJson(
    res,
    code,
    { error: { code, message, errors: [{ message, domain: 'global', reason, ...extra }] } },
    headers,
  );
}

export const noSuchBucket = (res: ServerResponse): void =>
  sendError(res, 404, 'The specified bucket does not exist.', 'notFound');

export const noSuchObject = (res: ServerResponse, bucket: string, name: string): void =>
  sendError(res, 404, `No such object: ${bucket}/${name}`, 'notFound');

export const preconditionFailed = (res: ServerResponse): void =>
  sendError(res, 412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet', {
    locationType: 'header',
    location: 'If-Match',
  });

/**
 * ifGenerationMatch / ifGenerationNotMatch / ifMetagenerationMatch / ifMetagenerationNotMatch.
 * A missing object has generation 0, so ifGenerationMatch=0 means "only if it does not exist yet".
 * Returns true when all given preconditions hold.
 */
export function preconditionsHold(q: URLSearchParams, obj: StoredObject | undefined): boolean {
  const gen = obj ? obj.generation : 0;
  const check = (key: string, actual: number | undefined, equal: boolean): boolean => {
    const v = q.get(key);
    if (v === null) return true;
    if (actual === undefined) return false; // metageneration condition on a missing object
    return (String(actual) === String(Number(v))) === equal;
  };
  return (
    check('ifGenerationMatch', gen, true) &&
    check('ifGenerationNotMatch', gen, false) &&
    check('ifMetagenerationMatch', obj?.metageneration, true) &&
    check('ifMetagenerationNotMatch', obj?.metageneration, false)
  );
}

/** 400 for a malformed precondition value (real GCS: "Invalid argument"). */
export function badPreconditionValue(q: URLSearchParams): string | undefined {
  for (const k of ['ifGenerationMatch', 'ifGenerationNotMatch', 'ifMetagenerationMatch', 'ifMetagenerationNotMatch']) {
    const v = q.get(k);
    if (v !== null && !/^\d+$/.test(v)) return k;
  }
  return undefined;
}

// ---------------------------------------------------------------- request bodies

export interface BodyResult {
  data: Buffer;
  /** false when the client went away before the body was complete */
  complete: boolean;
}

export function readBody(req: IncomingMessage): Promise<BodyResult> {
  return new Promise(resolve => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (complete: boolean): void => {
      if (done) return;
      done = true;
      resolve({ data: Buffer.concat(chunks), complete });
    };
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => finish(true));
    req.on('error', () => finish(false));
    req.on('close', () => finish(req.complete));
  });
}

export function parseJsonObject(buf: Buffer): Record<string, unknown> | undefined {
  if (buf.length === 0) return {};
  try {
    const v: unknown = JSON.parse(buf.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export const parseError = (res: ServerResponse): void => sendError(res, 400, 'Parse Error', 'parseError');

/** Extracts writable fields + user metadata from a JSON object resource; error message on invalid input. */
export function objectFieldsFromJson(
  j: Record<string, unknown>,
): { fields: Partial<Record<WritableField, string>>; metadata: Record<string, string> } | string {
  const fields: Partial<Record<WritableField, string>> = {};
  for (const f of WRITABLE_FIELDS) {
    const v = j[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') return `Invalid value for ${f}`;
    fields[f] = v;
  }
  const metadata: Record<string, string> = {};
  const m = j.metadata;
  if (m !== undefined && m !== null) {
    if (typeof m !== 'object' || Array.isArray(m)) return 'Invalid value for metadata';
    for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
      if (v === null || v === undefined) continue;
      // GCS stores user metadata values as strings
      metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
    }
  }
  return { fields, metadata };
}

export function validObjectName(name: string): boolean {
  return (
    name.length > 0 &&
    Buffer.byteLength(name) <= 1024 &&
    !/[\r\n]/.test(name) &&
    name !== '.' &&
    name !== '..' &&
    !name.startsWith('.well-known/acme-challenge/')
  );
}

export function validBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/.test(name);
}

// ---------------------------------------------------------------- ranges

export type RangeResult = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * Single byte range per RFC 9110: `bytes=s-e`, `bytes=s-`, `bytes=-n`.
 * Syntactically invalid or multi-range headers are ignored (whole object), like GCS does.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' };
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return { kind: 'full' }; // invalid: ignored
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { kind: 'partial', start, end };
}

/** Headers GCS sends with object bytes (JSON-API media download and XML API). */
export function mediaHeaders(o: StoredObject): Record<string, string | number> {
  const h: Record<string, string | number> = {
    'Content-Type': o.fields.contentType ?? 'application/octet-stream',
    'x-goog-hash': o.md5 === undefined ? `crc32c=${o.crc32c}` : `crc32c=${o.crc32c},md5=${o.md5}`,
    'x-goog-generation': String(o.generation),
    'x-goog-metageneration': String(o.metageneration),
    'x-goog-stored-content-length': String(o.size),
    'x-goog-stored-content-encoding': o.fields.contentEncoding ?? 'identity',
    'x-goog-storage-class': o.storageClass,
    // A composite object has no MD5 to be its ETag: one derived from its generation stands in.
    ETag: o.md5 === undefined ? `"${etagOf(o.generation, o.metageneration)}"` : `"${Buffer.from(o.md5, 'base64').toString('hex')}"`,
    'Last-Modified': o.updated.toUTCString(),
    'Accept-Ranges': 'bytes',
    'Cache-Control': o.fields.cacheControl ?? 'no-cache, no-store, max-age=0, must-revalidate',
  };
  if (o.fields.contentDisposition) h['Content-Disposition'] = o.fields.contentDisposition;
  if (o.fields.contentEncoding) h['Content-Encoding'] = o.fields.contentEncoding;
  if (o.fields.contentLanguage) h['Content-Language'] = o.fields.contentLanguage;
  return h;
}

/** Writes object bytes honouring Range; `onUnsatisfiable` writes the protocol-specific 416. */
export function sendMedia(
  req: IncomingMessage,
  res: ServerResponse,
  o: StoredObject,
  overrides: Record<string, string> = {},
  onUnsatisfiable: () => void,
): void {
  const headers = { ...mediaHeaders(o), ...overrides };
  const r = parseRange(req.headers.range, o.size);
  if (r.kind === 'unsatisfiable') return onUnsatisfiable();
  if (r.kind === 'full') {
    res.writeHead(200, { ...headers, 'Content-Length': o.size });
    return writePieces(res, o.data);
  }
  res.writeHead(206, {
    ...headers,
    'Content-Length': r.end + 1 - r.start,
    'Content-Range': `bytes ${r.start}-${r.end}/${o.size}`,
  });
  writePieces(res, slicePieces(o.data, r.start, r.end + 1));
}

/** Bytes [start, end) of `pieces`, as views. */
export function slicePieces(pieces: Buffer[], start: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const p of pieces) {
    const from = Math.max(start, at);
    const to = Math.min(end, at + p.length);
    if (from < to) out.push(p.subarray(from - at, to - at));
    at += p.length;
    if (at >= end) break;
  }
  return out;
}

/** Writes the pieces with backpressure, then ends the response; a client that goes away ends it too. */
function writePieces(res: ServerResponse, pieces: Buffer[]): void {
  if (pieces.length <= 1) return void res.end(pieces[0]);
  pipeline(Readable.from(pieces, { objectMode: false }), res).catch(() => undefined);
}
