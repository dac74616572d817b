import { randomBytes } from 'node:crypto';
import { pipeline, Readable } from 'node:stream';
import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';
import { checkNotExpired, headLive, type Located } from '../resources/locate.js';
import { parseResourceUri } from '../refs/resource-uri.js';
import type { StoredObject } from '../storage/driver.js';
import { ByteMeter } from '../storage/meter.js';
import { isMediaType } from '../persist/media-type.js';
import type { StoreRegistry } from '../storage/registry.js';
import type { StreamedBody } from '../upstream/build-request.js';

/**
 * Request bodies read from stored blobs: `body-from-ref` and multipart parts
 * with `from-ref` (docs/seed-contract.md#request-bodies-from-stored-blobs). Load caps by the source blob's tier (retained
 * 10 MiB, ephemeral 20 MiB) are checked on the stored size before any byte
 * goes upstream; the bytes are streamed, never buffered whole.
 */
export interface RefDeps {
  config: Config;
  stores: StoreRegistry;
}

export interface LoadedRef {
  located: Located;
  object: StoredObject;
}

/** Resolves `{uri}`, a whole resource ref, or a URI string; the blob must be in the step's workspace and live. */
export async function loadRef(deps: RefDeps, workspace: string, raw: unknown, field: string): Promise<LoadedRef> {
  const uri = typeof raw === 'string' ? raw : raw !== null && typeof raw === 'object' ? ((raw as Record<string, unknown>).uri ?? (raw as Record<string, unknown>)['resource-uri']) : undefined;
  if (typeof uri !== 'string') throw new BlobgateError('invalid_request', `${field} must be {"uri": "res://…"} or a resource ref.`, { field });
  const loc = parseResourceUri(uri);
  if (loc.workspace !== workspace) {
    throw new BlobgateError('forbidden', `${field} names a resource of workspace "${loc.workspace}"; a step may only load blobs of its own workspace.`, { field });
  }
  if (!deps.stores.has(loc.store)) throw new BlobgateError('not_found', `${field}: no resource at ${uri}.`, { field });
  const located = { loc, driver: deps.stores.get(loc.store) };
  return { located, object: await headLive(located) };
}

function loadLimit(deps: RefDeps, obj: StoredObject): number {
  return deps.config.tiers[obj.meta.tier].loadBytes;
}

/** Opens the stored bytes, checking expiry again and that exactly `size` bytes come. */
async function openExact(ref: LoadedRef): Promise<Readable> {
  checkNotExpired(ref.object);
  const read = await ref.located.driver.read(ref.located.loc.key);
  // The blob could be replaced between head and read: never send more than announced.
  const meter = new ByteMeter(ref.object.meta.size);
  // pipeline, not pipe: a storage read error reaches the meter (and the upstream request),
  // and destroying the meter closes the stored file or socket.
  return pipeline(read.body, meter, () => undefined);
}

/** body-from-ref: the blob as the whole request body. */
export async function refBody(deps: RefDeps, workspace: string, raw: unknown): Promise<{ body: StreamedBody; contentType: string }> {
  const ref = await loadRef(deps, workspace, raw, 'request.body-from-ref');
  const limit = loadLimit(deps, ref.object);
  if (ref.object.meta.size > limit) {
    throw new BlobgateError(
      'load_limit_exceeded',
      `request.body-from-ref is ${ref.object.meta.size} bytes; blobs of the ${ref.object.meta.tier} tier load up to ${limit} bytes as a request body.`,
      { 'size-bytes': ref.object.meta.size, 'limit-bytes': limit, tier: ref.object.meta.tier },
    );
  }
  return { body: { length: ref.object.meta.size, open: () => openExact(ref) }, contentType: ref.object.meta.contentType };
}

export interface MultipartPart {
  name: string;
  value?: string | number | boolean;
  'from-ref'?: unknown;
  filename?: string;
  'content-type'?: string;
}

/** multipart: parts `{name, value}` or `{name, from-ref, filename?, content-type?}` as a generated multipart/form-data stream. */
export async function multipartBody(deps: RefDeps, workspace: string, parts: unknown): Promise<{ body: StreamedBody; contentType: string }> {
  if (!Array.isArray(parts) || parts.length === 0) throw new BlobgateError('invalid_request', 'request.multipart must be a non-empty array of parts.', { field: 'request.multipart' });
  const boundary = `----blobgate${randomBytes(16).toString('hex')}`;
  const loaded: Array<{ head: Buffer; value?: Buffer; ref?: LoadedRef }> = [];
  for (const [i, p] of (parts as MultipartPart[]).entries()) {
    const field = `request.multipart[${i}]`;
    if (p === null || typeof p !== 'object' || typeof p.name !== 'string' || p.name === '') throw new BlobgateError('invalid_request', `${field}.name is required.`, { field });
    const hasValue = p.value !== undefined;
    const hasRef = p['from-ref'] !== undefined;
    if (hasValue === hasRef) throw new BlobgateError('invalid_request', `${field} needs exactly one of "value" or "from-ref".`, { field });
    if (hasValue && !['string', 'number', 'boolean'].includes(typeof p.value)) throw new BlobgateError('invalid_request', `${field}.value must be a string, number or boolean.`, { field });
    if (p.filename !== undefined && (typeof p.filename !== 'string' || p.filename === '')) throw new BlobgateError('invalid_request', `${field}.filename must be a non-empty string.`, { field });
    if (p['content-type'] !== undefined && !isMediaType(p['content-type'])) throw new BlobgateError('invalid_request', `${field}.content-type must be a media type like text/csv.`, { field });
    const ref = hasRef ? await loadRef(deps, workspace, p['from-ref'], `${field}.from-ref`) : undefined;
    const filename = p.filename ?? (ref ? ref.located.loc.key.split('/').at(-1) : undefined);
    const type = p['content-type'] ?? ref?.object.meta.contentType;
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="${escapeQuoted(p.name)}"` +
      (filename !== undefined ? `; filename="${escapeQuoted(filename)}"` : '') +
      '\r\n' +
      (type !== undefined ? `Content-Type: ${type.replace(/[\r\n]/g, '')}\r\n` : '') +
      '\r\n';
    loaded.push({ head: Buffer.from(head, 'utf8'), ...(hasValue ? { value: Buffer.from(String(p.value), 'utf8') } : {}), ...(ref ? { ref } : {}) });
  }
  const total = loaded.reduce((n, l) => n + (l.ref?.object.meta.size ?? 0), 0);
  for (const [i, l] of loaded.entries()) {
    if (!l.ref) continue;
    const limit = loadLimit(deps, l.ref.object);
    if (l.ref.object.meta.size > limit) {
      throw new BlobgateError(
        'load_limit_exceeded',
        `request.multipart[${i}].from-ref is ${l.ref.object.meta.size} bytes; blobs of the ${l.ref.object.meta.tier} tier load up to ${limit} bytes (the from-ref parts total ${total} bytes).`,
        { part: i, 'size-bytes': l.ref.object.meta.size, 'limit-bytes': limit, tier: l.ref.object.meta.tier, 'total-bytes': total },
      );
    }
  }
  const tail = Buffer.from(`--${boundary}--\r\n`);
  const length = loaded.reduce((n, l) => n + l.head.length + (l.value?.length ?? l.ref?.object.meta.size ?? 0) + 2, 0) + tail.length;
  const open = async (): Promise<Readable> => {
    async function* generate(): AsyncGenerator<Buffer> {
      for (const l of loaded) {
        yield l.head;
        if (l.value) yield l.value;
        if (l.ref) {
          const stream = await openExact(l.ref);
          try {
            for await (const chunk of stream) yield chunk as Buffer;
          } finally {
            stream.destroy();
          }
        }
        yield Buffer.from('\r\n');
      }
      yield tail;
    }
    return Readable.from(generate(), { objectMode: false });
  };
  return { body: { length, open }, contentType: `multipart/form-data; boundary=${boundary}` };
}

/** RFC 7578 §4.2: quotes, CR and LF in a name or filename are percent-encoded. */
function escapeQuoted(s: string): string {
  return s.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
