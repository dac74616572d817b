import busboy from 'busboy';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { BlobgateError } from '../errors.js';
import type { WriteCap } from '../persist/write-cap.js';
import type { ResourceRef } from '../refs/resource-ref.js';
import type { Tier } from '../storage/driver.js';
import { owned } from '../storage/stream-owner.js';
import { isUploadField, largestUploadCap, storeUpload, UPLOAD_FIELDS, type UploadDeps, type UploadFields } from './store-upload.js';

export interface MultipartRequest {
  workspace: string;
  headers: IncomingHttpHeaders;
  /** The raw request body; read here, and drained when the parse stops early. */
  body: Readable;
  /** Aborted by the caller (client gone, deadline) and by this upload when any part fails. */
  controller: AbortController;
  /** Told the store and tier of each file as it is placed. */
  placed?: (store: string, tier: Tier) => void;
}

/**
 * A multipart/form-data upload: each file part is stored as it streams by,
 * and the whole request is all or nothing — when any part fails (cap,
 * malformed body, limits, disconnect) the files it already stored are deleted
 * and the first failure is thrown.
 */
export function receiveMultipart(deps: UploadDeps, req: MultipartRequest): Promise<ResourceRef[]> {
  return new MultipartUpload(deps, req).run();
}

class MultipartUpload {
  private readonly cap: WriteCap;
  private readonly stored: ResourceRef[] = [];
  private readonly writes: Array<Promise<void>> = [];
  /** Fields seen so far; each file takes the fields before it. */
  private readonly fields: UploadFields = {};
  /** Fields sent after the latest file part: no file would take them, unless another file follows. */
  private trailing: string[] = [];
  private failure: unknown;
  /** Ends the parse (set once the parse runs). */
  private stopParsing = (): void => undefined;

  constructor(
    private readonly deps: UploadDeps,
    private readonly req: MultipartRequest,
  ) {
    this.cap = largestUploadCap(deps.config);
  }

  async run(): Promise<ResourceRef[]> {
    const bb = this.parser();
    const { signal } = this.req.controller;
    // A client that leaves between parts: no file stream fails, so the abort itself must end the parse.
    const onAbort = (): void => this.fail(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.parse(bb);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    // A field after the last file would shape no file: refused, and the upload rolled back like any other
    // failure (the last file may already be stored by now; the abort stops it if it is still being written).
    if (this.failure === undefined && this.writes.length > 0 && this.trailing.length > 0) this.fail(trailingFields(this.trailing));
    await Promise.allSettled(this.writes);
    if (this.failure === undefined && this.writes.length === 0) this.failure = new BlobgateError('invalid_request', 'The upload holds no file part.');
    if (this.failure !== undefined) {
      await this.rollback();
      throw this.failure;
    }
    return this.stored;
  }

  private parser(): busboy.Busboy {
    const { limits } = this.deps.config;
    try {
      // fileSize: one byte over the cap, so the meter sees the breach; busboy's truncation is never taken as a short file.
      // defParamCharset: browsers and curl send UTF-8 filenames (busboy's default would read them as latin1).
      return busboy({
        headers: this.req.headers,
        defParamCharset: 'utf8',
        limits: { files: limits.uploadFiles, fields: limits.uploadFields, fieldSize: limits.uploadFieldBytes, fileSize: this.cap.bytes + 1 },
      });
    } catch (err) {
      throw new BlobgateError('invalid_request', 'The multipart/form-data header has no usable boundary.', undefined, { cause: err });
    }
  }

  /** Resolves when busboy is done, or when a failure stopped the parse. */
  private parse(bb: busboy.Busboy): Promise<void> {
    const { limits } = this.deps.config;
    const { body, controller } = this.req;
    return new Promise<void>((resolve) => {
      this.stopParsing = () => {
        body.unpipe(bb);
        body.resume();
        bb.removeAllListeners('file');
        resolve();
      };
      bb.on('field', (name, value, info) => this.onField(name, value, info.valueTruncated));
      bb.on('file', (_name, stream, info) => this.onFile(stream, info));
      bb.on('filesLimit', () => this.fail(new BlobgateError('invalid_request', `More than limits.upload-files (${limits.uploadFiles}) files in one upload.`)));
      bb.on('fieldsLimit', () => this.fail(new BlobgateError('invalid_request', `More than limits.upload-fields (${limits.uploadFields}) fields in one upload.`)));
      bb.on('partsLimit', () => this.fail(new BlobgateError('invalid_request', 'Too many parts in one upload.')));
      bb.on('error', (err) => {
        this.fail(controller.signal.aborted ? controller.signal.reason : new BlobgateError('invalid_request', 'The multipart/form-data body is malformed or was cut off.', undefined, { cause: err }));
        resolve();
      });
      bb.on('close', () => resolve());
      body.pipe(bb);
    });
  }

  private onField(name: string, value: string, truncated: boolean): void {
    const { uploadFieldBytes } = this.deps.config.limits;
    if (truncated) return this.fail(new BlobgateError('invalid_request', `Form field "${name}" is longer than limits.upload-field-bytes (${uploadFieldBytes}).`, { field: name }));
    if (!isUploadField(name)) return this.fail(new BlobgateError('invalid_request', `Unknown form field "${name}" (known: ${UPLOAD_FIELDS.join(', ')}).`, { field: name }));
    this.fields[name] = value;
    if (this.writes.length > 0) this.trailing.push(name);
  }

  private onFile(stream: Readable, info: busboy.FileInfo): void {
    // Owned from birth: busboy destroys a part with an error when the form breaks off, whether
    // a store is reading it yet or it is only being drained.
    owned(stream);
    if (this.failure !== undefined) {
      stream.resume();
      return;
    }
    const fields: UploadFields = { ...this.fields, filename: this.fields.filename ?? info.filename };
    // Past the largest cap busboy stops the part; the file's own tier cap (smaller or the same) is
    // enforced by the store's meter in storeUpload, and worded for the file's tier.
    stream.once('limit', () => stream.destroy(this.cap.exceeded()));
    if (!fields['content-type'] && info.mimeType && info.mimeType !== 'application/octet-stream') fields['content-type'] = info.mimeType;
    delete this.fields.filename; // a filename field names the next file only
    this.trailing = [];
    const index = this.writes.length;
    const write = storeUpload(this.deps, { workspace: this.req.workspace, fields, body: stream, signal: this.req.controller.signal, ...(this.req.placed ? { placed: this.req.placed } : {}) });
    this.writes.push(
      write.then(
        (ref) => void (this.stored[index] = ref),
        (err: unknown) => {
          stream.resume();
          this.fail(err);
        },
      ),
    );
  }

  /** The first failure wins; it aborts every write of this request and stops the parse. */
  private fail(err: unknown): void {
    if (this.failure === undefined) this.failure = err;
    if (!this.req.controller.signal.aborted) this.req.controller.abort(err);
    // Stop parsing: busboy stalls on a file stream nobody reads, so it may never close by itself.
    this.stopParsing();
  }

  /** All or nothing: removes what this request already stored. */
  private async rollback(): Promise<void> {
    const refs = this.stored.filter(Boolean);
    await Promise.allSettled(refs.map((ref) => this.deps.stores.get(ref['blob-ref'].store).delete(ref['blob-ref'].path)));
  }
}

/** Form fields shape the files that follow them (README "Uploads"); one after the last file would be silently lost. */
function trailingFields(names: string[]): BlobgateError {
  const list = [...new Set(names)].map((n) => `"${n}"`).join(', ');
  return new BlobgateError(
    'invalid_request',
    new Set(names).size > 1
      ? `Form fields ${list} come after the last file, so they apply to no file; place them before the file part(s) they are for. Nothing was stored.`
      : `Form field ${list} comes after the last file, so it applies to no file; place it before the file part(s) it is for. Nothing was stored.`,
    { field: names[0], fields: [...new Set(names)] },
  );
}
