import type { File, FileMetadata, Storage } from '@google-cloud/storage';
import { randomUUID } from 'node:crypto';
import { finished } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gcsStatus, isBucketMissing } from './gcs-errors.js';

/**
 * Staging names live under `<store prefix>.blobgate-staging/`: beside the
 * `workspaces/` tree, so no workspace listing ever shows them, and under one
 * prefix an operator can give a lifecycle rule (delete after 1 day) for what
 * a crashed process leaves.
 */
export const STAGING_DIR = '.blobgate-staging/';

export function newStagingName(storePrefix: string): string {
  return `${storePrefix}${STAGING_DIR}${randomUUID()}`;
}

/**
 * Longest a failed write waits for each cleanup step (the client's stream to
 * close, the session cancel, the staging delete) before moving on. The
 * client's write stream has hung on stream errors before
 * (googleapis/nodejs-storage#2367, fixed by #2437, which regressed into #2560
 * and was fixed again by #2624): a failed write must reject in bounded time
 * whatever the client does, so no cleanup step is awaited unbounded.
 */
export const CLEANUP_STEP_MS = 5_000;

/** The precondition of a write to a name that must not exist yet. */
const FRESH = Object.freeze({ ifGenerationMatch: 0 });

/**
 * One resumable upload to a staging name, with what a failed write needs to
 * leave nothing behind.
 *
 * The session is created first (`createResumableUpload`) and its URI handed
 * to `createWriteStream({uri})`, rather than learnt from the stream's `uri`
 * event: a write that fails while the session POST is in flight would
 * otherwise never learn the URI and leave the session open.
 *
 * Memory: the client assembles each chunk (`chunkSize`) in memory and keeps
 * it until GCS acknowledged it (see DEFAULT_CHUNK_SIZE in gcs-write.ts).
 */
export class StagedUpload {
  private opening: Promise<string> | undefined;
  private session: string | undefined;
  private stream: Writable | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly file: File,
    private readonly metadata: FileMetadata,
    private readonly chunkSize: number,
  ) {}

  /** Creates the resumable session; resolves with nothing once its URI is known. */
  async open(): Promise<void> {
    // ifGenerationMatch 0: the staging name is fresh, so the session (and every chunk sent to it) is safe to retry.
    this.opening = this.file.createResumableUpload({ metadata: this.metadata, preconditionOpts: FRESH }).then(([uri]) => (this.session = uri));
    await this.opening;
  }

  /**
   * Streams `source` into the session in `chunkSize` requests; resolves when
   * GCS finalized the staging object and the client checked its crc32c.
   */
  send(source: Readable): Promise<void> {
    if (this.session === undefined) throw new Error('StagedUpload.send() before open()');
    const ws = this.file.createWriteStream({
      uri: this.session,
      resumable: true,
      chunkSize: this.chunkSize,
      validation: 'crc32c',
      metadata: this.metadata,
      preconditionOpts: FRESH,
    });
    // A listener for the stream's whole life: an error emitted after the
    // pipeline settled (stop() destroys with one) must not crash the process.
    ws.on('error', () => undefined);
    this.stream = ws;
    return pipeline(source, ws);
  }

  /** Stops at once: destroys the client's stream, which stops sending further chunks. */
  stop(): void {
    if (this.stream && !this.stream.destroyed) this.stream.destroy(new Error('blobgate stopped the GCS upload'));
  }

  /**
   * After a failure: waits (bounded) for the client's stream to close and for
   * a session POST still in flight, cancels the session (DELETE on its URI;
   * GCS answers 499), then deletes the staging object in case the last chunk
   * finalized it before the cancel arrived. Best effort by nature: the write
   * has already failed, and its own error is what the caller gets.
   */
  async discard(): Promise<void> {
    const stream = this.stream;
    if (stream && !stream.closed) await bounded(finished(stream).catch(() => undefined));
    if (this.session === undefined && this.opening) await bounded(this.opening.catch(() => undefined));
    if (this.session !== undefined) await bounded(cancelSession(this.storage, this.session));
    await bounded(removeStagingObject(this.file));
  }
}

/**
 * DELETE on the session URI. Requests go through the Storage client, so they
 * get its credentials policy, proxy and user agent; the session URI itself
 * authorises the request on GCS. 499 (cancelled), 404 (unknown or expired) and
 * 400 (already finalized: the caller deletes the object) all end the session.
 */
export function cancelSession(storage: Storage, uri: string): Promise<void> {
  return new Promise((resolve) => {
    storage.request({ uri, method: 'DELETE', headers: { 'Content-Length': '0' } }, () => resolve());
  });
}

/** Deletes a staging object; a 404 means it is gone already. One retry covers a transient failure. */
export async function removeStagingObject(file: File): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await file.delete();
      return;
    } catch (err) {
      if (gcsStatus(err) === 404 && !isBucketMissing(err)) return;
      // the client already retried transient errors; one more round, then the lifecycle rule takes over
    }
  }
}

/** Waits for `p` at most CLEANUP_STEP_MS; never rejects. */
async function bounded(p: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLEANUP_STEP_MS);
  });
  try {
    await Promise.race([p.then(() => undefined, () => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
