import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { ObjectMeta, StoredObject, WriteRequest } from './driver.js';
import type { Janitor } from './janitor.js';
import { encodeMeta } from './meta-codec.js';
import { ByteMeter } from './meter.js';
import { feed, readHead } from './stream-head.js';
import { abortError, commitOrConfirm, watchBody, writeFailure } from './write-errors.js';

/**
 * The staged-write protocol of the object-store drivers (S3, GCS), written
 * once; each backend supplies a small adapter (s3/s3-write.ts,
 * gcs/gcs-write.ts). All or nothing, with the complete meta (incl. sha256)
 * on the object the moment it appears (docs/storage-contract.md#staged-writes):
 *
 * 1. Read the body through the ByteMeter until more than one write unit (an
 *    S3 part, a GCS chunk) arrived or it ended.
 * 2. A body of at most one unit goes up in one request to the final name
 *    that carries the final metadata: atomic, nothing staged.
 * 3. A larger body is uploaded where no reader sees it, then published by
 *    one atomic request, and what the upload leaves is removed. GCS: a
 *    resumable upload to a hidden staging name under
 *    `<prefix>.blobgate-staging/`, published at the final name with the
 *    complete metadata by a server-side copy, and the staging object is
 *    deleted. S3: a multipart upload at the final name, published by
 *    CompleteMultipartUpload, its sha256 in a sidecar (s3/s3-write.ts).
 * 4. The request that makes the object visible (step 2's, or the copy) is
 *    never cancelled and, when it fails, the live object decides whether it
 *    took effect anyway (commitOrConfirm).
 * 5. On any failure the staged upload is stopped, the body destroyed, the
 *    upload's every trace handed to the store's janitor (which retries while
 *    the store is unreachable), and the write rejects per write-errors.ts
 *    precedence.
 *
 * The signal is honoured until the commit request is sent.
 */

/**
 * Staging names live under `<store prefix>.blobgate-staging/`: beside the
 * `workspaces/` tree, so no workspace listing ever shows them, and under one
 * prefix the janitor's sweep and a lifecycle rule find what a crashed
 * process left.
 */
export const STAGING_DIR = '.blobgate-staging/';

/** A fresh physical staging name for one write. */
export function newStagingName(storePrefix: string): string {
  return `${storePrefix}${STAGING_DIR}${randomUUID()}`;
}

/** Runs one commit request under commit-or-confirm against the write's final meta. */
export type Commit = (send: () => Promise<unknown>) => Promise<void>;

/** What the final name holds now, as far as a commit check needs it. */
export interface LiveObject {
  size: number | undefined;
  /** The object's custom metadata (S3 user metadata, GCS custom metadata). */
  metadata: Record<string, unknown> | undefined;
}

/** One upload of a body to the staging name, as a backend does it. */
export interface StagedUpload {
  /** The physical staging name (for the janitor's messages). */
  readonly name: string;
  /** When present, runs before the body is sent (GCS: creates the resumable session and its record). */
  open?(): Promise<void>;
  /**
   * Uploads `body` to the staging name; resolves once the staging object is
   * complete. The body's chunks come straight from the meter (no stream in
   * between: one stage less per chunk); a stopped upload ends its wait for
   * the next one itself (stoppable-read.ts) and returns the iterator.
   */
  send(body: AsyncIterable<Buffer>): Promise<void>;
  /** Stops at once: no further requests, those in flight cancelled where that is safe. Called more than once. */
  stop(): void;
  /**
   * After a failure (stop() was called): waits until the upload's requests
   * came back, bounded where the client may hang, then returns the cleanup
   * of everything the upload may have left. The janitor runs it and retries
   * it; it must be safe to run again and reject while anything may remain.
   */
  settle(): Promise<() => Promise<void>>;
  /** After a publish: deletes the staging object (and what belongs to it). Safe to run again. */
  remove(): Promise<void>;
}

export interface StagedWriteOptions {
  /**
   * Trust an announced size: when `expectedSize` is over one unit, skip
   * step 1 and stage at once. Not for S3, where a body that turns out to fit
   * in one part must never reach lib-storage's single-part PutObject, which
   * ignores abort (aws-sdk-js-v3 #5109).
   */
  trustExpectedSize: boolean;
  /**
   * Race every wait on the staged upload (open, send) against the stop
   * trigger (the signal's abort, the meter's failure), instead of relying
   * on the stopped upload to reject. GCS needs it: the client's write stream
   * has failed to settle on a source error (googleapis/nodejs-storage#2367),
   * and a write must fail in bounded time whatever the client does.
   * lib-storage's `done()` rejects once its upload is aborted.
   */
  raceStop: boolean;
}

/** The head of a body as read in step 1. */
export interface Head {
  /** What the protocol hands on: the whole body (ended), else the bytes read so far that the backend did not keep. */
  chunks: Buffer[];
  ended: boolean;
}

export interface StagedWriteBackend {
  /** The write unit: a body of at most this many bytes goes up in one request. */
  readonly unit: number;
  /**
   * When present, reads step 1's head instead of the protocol (S3: into a
   * part buffer of the shared buffer budget, which the backend keeps as the
   * first part when the body is larger). Reads until more than `unit` bytes
   * arrived or the body ended.
   */
  readHead?(bytes: AsyncIterator<Buffer>): Promise<Head>;
  /** What a failed staged upload leaves, for the janitor's messages: "multipart upload", "resumable upload". */
  readonly uploadKind: string;
  readonly options: StagedWriteOptions;
  /** Owns the cleanup of a failed upload and of the staging object after a publish. */
  readonly janitor: Janitor;
  /** The object at the final name now; rejects when there is none. */
  live(): Promise<LiveObject>;
  /** One request (per attempt, each through `commit`) to the final name with the final metadata. */
  putWhole(chunks: Buffer[], meta: ObjectMeta, commit: Commit): Promise<void>;
  /** A new staged upload to this write's staging name, with the initial metadata (`req.meta`). */
  stage(): StagedUpload;
  /** Publishes the complete staging object at the final name with the final metadata, through `commit`. */
  publish(meta: ObjectMeta, commit: Commit): Promise<void>;
}

export async function writeStaged(backend: StagedWriteBackend, req: WriteRequest): Promise<StoredObject> {
  if (req.signal.aborted) {
    req.body.destroy();
    throw abortError(req.signal);
  }
  const write = new StagedWrite(backend, req);
  try {
    return await write.run();
  } catch (err) {
    throw await write.fail(err);
  } finally {
    write.dispose();
  }
}

/** One write through the protocol: the metered body, the stop trigger, the staged upload once there is one. */
class StagedWrite {
  private readonly meter: ByteMeter;
  private readonly watched: ReturnType<typeof watchBody>;
  private readonly trigger: ReturnType<typeof stopTrigger>;
  private readonly piped: Promise<void>;
  private readonly bytes: AsyncIterator<Buffer>;
  private staged: StagedUpload | undefined;
  private unhook: (() => void) | undefined;

  constructor(
    private readonly backend: StagedWriteBackend,
    private readonly req: WriteRequest,
  ) {
    this.meter = new ByteMeter(req.maxBytes, req.progress);
    this.watched = watchBody(req.body, this.meter);
    this.trigger = stopTrigger(req.signal, this.meter);
    this.piped = pipeline(req.body, this.meter, { signal: req.signal });
    this.piped.catch(() => undefined); // its error reaches us through the meter, watchBody and the trigger
    this.bytes = this.meter[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async run(): Promise<StoredObject> {
    const { backend, req } = this;
    const announcedLarge = backend.options.trustExpectedSize && req.expectedSize !== undefined && req.expectedSize > backend.unit;
    const head = announcedLarge ? { chunks: [], ended: false } : await (backend.readHead ? backend.readHead(this.bytes) : readHead(this.bytes, backend.unit));
    return head.ended ? this.single(head.chunks) : this.stageAndPublish(head.chunks);
  }

  /** A body of at most one unit: one request with the final metadata. */
  private async single(chunks: Buffer[]): Promise<StoredObject> {
    await this.piped;
    this.throwIfAborted();
    const meta = this.finalMeta();
    await this.backend.putWhole(chunks, meta, this.commit(meta));
    return { key: this.req.key, meta };
  }

  private async stageAndPublish(head: Buffer[]): Promise<StoredObject> {
    const upload = this.backend.stage();
    this.staged = upload;
    this.unhook = stopOn(this.req.signal, this.meter, () => upload.stop());
    if (upload.open) {
      await this.wait(upload.open());
      this.throwIfAborted();
    }
    await this.wait(upload.send(feed(head, this.bytes)));
    await this.piped;
    this.throwIfAborted();
    const meta = this.finalMeta();
    await this.backend.publish(meta, this.commit(meta));
    // Committed: the write succeeded even if this delete fails; the janitor retries it.
    await this.backend.janitor.discard(`staging object ${upload.name}`, () => upload.remove());
    return { key: this.req.key, meta };
  }

  /** After any failure: the error to reject with, once the staged upload is stopped and its cleanup handed to the janitor. */
  async fail(err: unknown): Promise<unknown> {
    const { req, staged } = this;
    // Classify before destroying anything ourselves: a destroy would make the streams emit errors of their own.
    const failure = writeFailure(this.trigger.meterError ?? err, { signal: req.signal, bodyError: this.watched.error, what: `writing ${req.key}` });
    staged?.stop();
    this.meter.destroy();
    if (!req.body.destroyed) req.body.destroy();
    if (staged) {
      const cleanup = await staged.settle();
      await this.backend.janitor.discard(`${this.backend.uploadKind} to ${staged.name}`, cleanup);
    }
    return failure;
  }

  dispose(): void {
    this.unhook?.();
    this.trigger.dispose();
    this.watched.dispose();
  }

  /** With `raceStop`, a wait on the staged upload ends the moment the stop trigger fires. */
  private wait<T>(p: Promise<T>): Promise<T> {
    if (!this.backend.options.raceStop) return p;
    p.catch(() => undefined); // when the trigger wins the race, the failure is handled in fail()
    return Promise.race([p, this.trigger.promise]);
  }

  private commit(meta: ObjectMeta): Commit {
    return (send) => commitOrConfirm(send, () => isCommitted(this.backend, meta));
  }

  private finalMeta(): ObjectMeta {
    return finalMeta(this.req, this.meter.bytes, this.meter.sha256);
  }

  private throwIfAborted(): void {
    if (this.req.signal.aborted) throw abortError(this.req.signal);
  }
}

function finalMeta(req: WriteRequest, size: number, sha256: string): ObjectMeta {
  return { ...req.meta, size, sha256 };
}

/** Whether the final name holds this write's object: its size and every field of its encoded meta. */
async function isCommitted(backend: StagedWriteBackend, meta: ObjectMeta): Promise<boolean> {
  const live = await backend.live();
  const expected = encodeMeta(meta);
  return live.size === meta.size && Object.entries(expected).every(([k, v]) => live.metadata?.[k] === v);
}

/**
 * The stop trigger: a promise that rejects the moment the signal aborts or
 * the meter fails (cap breach, or a source error carried through the
 * pipeline), and the meter's first error, which outranks whatever a stopped
 * backend rejects with.
 */
function stopTrigger(signal: AbortSignal, meter: ByteMeter): { promise: Promise<never>; readonly meterError: unknown; dispose(): void } {
  let reject!: (err: unknown) => void;
  let meterError: unknown;
  const promise = new Promise<never>((_, rej) => {
    reject = rej;
  });
  promise.catch(() => undefined); // only ever raced
  const onAbort = (): void => reject(abortError(signal));
  const onMeterError = (err: unknown): void => {
    meterError ??= err;
    reject(err);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  meter.on('error', onMeterError);
  return {
    promise,
    get meterError() {
      return meterError;
    },
    dispose: () => {
      signal.removeEventListener('abort', onAbort);
      meter.off('error', onMeterError);
    },
  };
}

/** Stops the staged upload at once when the signal aborts or the meter fails, rather than after its requests in flight. */
function stopOn(signal: AbortSignal, meter: ByteMeter, stop: () => void): () => void {
  signal.addEventListener('abort', stop, { once: true });
  meter.once('error', stop);
  return () => {
    signal.removeEventListener('abort', stop);
    meter.off('error', stop);
  };
}
