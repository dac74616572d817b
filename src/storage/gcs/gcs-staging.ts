import type { Bucket, File, FileMetadata, Storage } from '@google-cloud/storage';
import type { Dispatcher } from 'undici';
import type { BufferBudget } from '../buffer-budget.js';
import type { StagedUpload } from '../staged-write.js';
import { gcsStatus } from './gcs-errors.js';
import { type SessionRetry, SessionUpload } from './gcs-session-upload.js';

/** Staging names live under `<store prefix>.blobgate-staging/` (staged-write.ts); the janitor's sweep (gcs-sweep.ts) finds them there. */
export { STAGING_DIR, newStagingName } from '../staged-write.js';

/**
 * The session record of a staging upload: `<staging name>.session`, a small
 * object holding the session URI, written once the session exists and
 * removed with the staging object. GCS cannot list resumable sessions, so
 * after a crash the record is the only way to find and cancel one.
 */
export const SESSION_SUFFIX = '.session';

/**
 * Longest a failed write waits for a request still in flight (a chunk, the
 * session POST, a part upload) before it hands the cleanup to the janitor.
 * The client's write stream has hung on stream errors before
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
 * The session is created first (`createResumableUpload`, through the client:
 * credentials, retries, preconditions), its record written, and only then
 * are the bytes sent, by blobgate's own data plane to the session URI
 * (gcs-session-upload.ts: why not the client's write stream, the chunk
 * protocol, retries, the crc32c check). A write that fails while the session
 * POST is in flight still learns the URI, so the session is cancelled.
 *
 * Memory: two chunks per transfer (one in flight, one filling), from the
 * process's buffer budget (limits.buffer-bytes).
 */
export class GcsStagedUpload implements StagedUpload {
  private opening: Promise<void> | undefined;
  private session: string | undefined;
  private upload: SessionUpload | undefined;
  private stopped = false;

  constructor(
    private readonly storage: Storage,
    private readonly file: File,
    private readonly metadata: FileMetadata,
    private readonly plane: SessionPlane,
  ) {}

  get name(): string {
    return this.file.name;
  }

  /** Creates the resumable session and its record; resolves once both exist. */
  open(): Promise<void> {
    this.opening ??= this.create();
    return this.opening;
  }

  private async create(): Promise<void> {
    // ifGenerationMatch 0: the staging name is fresh, so the session (and every chunk sent to it) is safe to retry.
    const [uri] = await this.file.createResumableUpload({ metadata: this.metadata, preconditionOpts: FRESH });
    this.session = uri;
    await recordOf(this.file).save(JSON.stringify({ session: uri, staging: this.file.name }), {
      resumable: false,
      contentType: 'application/json',
      preconditionOpts: FRESH,
    });
  }

  /**
   * Streams `source` into the session in `chunkSize` requests; resolves when
   * GCS finalized the staging object with the body's size and crc32c.
   */
  async send(source: AsyncIterable<Buffer>): Promise<void> {
    if (this.session === undefined) throw new Error('GcsStagedUpload.send() before open()');
    const { chunkSize, budget, dispatcher } = this.plane;
    const upload = new SessionUpload({ uri: this.session, chunkSize, budget, dispatcher, retry: sessionRetry(this.storage) });
    this.upload = upload;
    if (this.stopped) upload.stop();
    await upload.send(source);
  }

  /** Stops at once: aborts the chunk request in flight and ends the wait for the body (the write destroys it). */
  stop(): void {
    this.stopped = true;
    this.upload?.stop();
  }

  /**
   * After a failure: waits (bounded) for the chunk request in flight and for
   * a session POST (or its record) still in flight; the cleanup cancels the
   * session, deletes the staging object (the last chunk may have finalized it
   * before the cancel arrived) and the session record.
   */
  async settle(): Promise<() => Promise<void>> {
    if (this.upload) await bounded(this.upload.idle());
    if (this.opening) await bounded(this.opening.catch(() => undefined));
    const { storage, file, session } = this;
    return () => discardStaging(storage, file, session);
  }

  /** After a publish: deletes the staging object and its session record. */
  remove(): Promise<void> {
    return discardStaging(this.storage, this.file, undefined);
  }
}

/** What every session upload of a driver shares: the chunk size, the buffer budget, the connection pool for session URIs. */
export interface SessionPlane {
  chunkSize: number;
  budget: BufferBudget;
  dispatcher: Dispatcher;
}

/** The session data plane retries as the client does (its retry options: client.ts GCS_RETRY_OPTIONS, or a test's timing). */
function sessionRetry(storage: Storage): SessionRetry {
  const o = storage.retryOptions;
  return { maxRetries: o.maxRetries ?? 3, multiplier: o.retryDelayMultiplier ?? 2, maxDelay: o.maxRetryDelay ?? 64 };
}

/** The session record object of a staging object. */
export function recordOf(staging: File): File {
  return staging.bucket.file(staging.name + SESSION_SUFFIX);
}

/**
 * Everything a staging upload may have left: the session (when its URI is
 * known), the staging object, the session record. Safe to run again; rejects
 * while anything may remain.
 */
export async function discardStaging(storage: Storage, staging: File, session: string | undefined): Promise<void> {
  if (session !== undefined) await cancelSession(storage, session);
  await removeObject(staging);
  await removeObject(recordOf(staging));
}

/**
 * DELETE on the session URI. Requests go through the Storage client, so they
 * get its credentials policy, proxy, user agent and retries; the session URI
 * itself authorises the request on GCS. 499 (cancelled), 404 (unknown or
 * expired) and 400 (already finalized: the caller deletes the object) all end
 * the session; anything else rejects.
 */
export function cancelSession(storage: Storage, uri: string): Promise<void> {
  return new Promise((resolve, reject) => {
    storage.request({ uri, method: 'DELETE', headers: { 'Content-Length': '0' } }, (err) => {
      const status = err ? gcsStatus(err) : undefined;
      if (!err || status === 499 || status === 404 || status === 400) resolve();
      else reject(err);
    });
  });
}

/** Deletes one object; a 404 means it is gone already (so is a missing bucket's every object). The client retries transient failures. */
export async function removeObject(file: File): Promise<void> {
  try {
    await file.delete();
  } catch (err) {
    if (gcsStatus(err) === 404) return;
    throw err;
  }
}

/** The staging object a session record names, if the record is readable. */
export async function readRecord(bucket: Bucket, record: File): Promise<{ session?: string; staging: File }> {
  const staging = bucket.file(record.name.slice(0, -SESSION_SUFFIX.length));
  const [buf] = await record.download();
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString('utf8'));
  } catch {
    return { staging }; // not ours, or torn: the staging object is still swept
  }
  const session = (parsed as { session?: unknown }).session;
  return typeof session === 'string' ? { session, staging } : { staging };
}

/** Waits for `p` at most CLEANUP_STEP_MS; never rejects. */
export async function bounded(p: Promise<unknown>): Promise<void> {
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
