import { crc32c } from '@node-rs/crc32';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Dispatcher, EnvHttpProxyAgent, request } from 'undici';
import { BlobgateError } from '../../errors.js';
import { crc32cToBase64 } from './crc32c.js';
import type { BufferBudget, BufferLease } from '../buffer-budget.js';
import { nextRead } from '../stoppable-read.js';

/**
 * blobgate's own data plane for a GCS resumable session: the chunks go to
 * the session URI with undici, from buffers of the process's BufferBudget.
 * The Storage client still creates the session (gcs-staging.ts), publishes,
 * deletes and cancels; only the bytes take this path.
 *
 * Why not the client's `createWriteStream({uri})` (issue 18, measured with a
 * 1 GiB upload into the project's GCS server, client-side CPU per GiB): the
 * client's stream machinery (resumable-upload.js upstream iterator, chunk
 * buffer, Transform hops, gaxios) cost 3.0–3.4 s, a plain undici loop to the
 * same session 1.2–2.8 s, rclone 0.2 s. The client also assembles each chunk
 * in a fresh buffer and, with a source that outruns the upload, held up to
 * 3.4 chunks (gcs-write.ts DEFAULT_CHUNK_SIZE), outside the buffer budget.
 *
 * The protocol (cloud.google.com/storage/docs/performing-resumable-uploads):
 * - The session URI authorises its own requests: no credentials are sent.
 * - Every chunk but the last is `chunkSize` bytes (a multiple of 256 KiB),
 *   `Content-Range: bytes s-e/*`; the last one names the total, and carries
 *   `X-Goog-Hash: crc32c=` of the whole body, so GCS refuses to finalize
 *   bytes that differ from what was read. A body that ends on a chunk
 *   boundary is known to be final only when the source ends, so a full
 *   buffer is held until the next byte (or the end) arrives.
 * - One chunk is in flight while the next is filled from the source: two
 *   buffers per transfer (2 × chunkSize), taken from the budget (its wait
 *   is backpressure on the source) and given back once their request settled.
 * - 308 (Resume Incomplete) answers a chunk with the persisted prefix
 *   (`Range: bytes=0-N`). GCS may persist less than was sent; the rest is
 *   sent again.
 * - A dropped connection, 408, 429 or 5xx: after a backoff, a status query
 *   (`Content-Range: bytes *\/*`) says what GCS holds, and the upload
 *   resumes from there; so a resent chunk never duplicates nor skips a byte.
 *   Retries follow the client's retry options (`maxRetries` consecutive
 *   failures without progress, the client's backoff: client.ts).
 * - The final answer is the object resource; its size and crc32c are
 *   checked against the body's (what the client's `validation: 'crc32c'`
 *   did).
 * - stop() aborts the request in flight (its bytes stay in the session,
 *   which the cleanup cancels) and any wait for a buffer; nothing is sent
 *   after it, and never the final chunk of a body that did not end.
 */
export interface SessionUploadTarget {
  /** The resumable session URI. */
  uri: string;
  /** Bytes per chunk, a positive multiple of 256 KiB. */
  chunkSize: number;
  budget: BufferBudget;
  dispatcher: Dispatcher;
  retry: SessionRetry;
}

export interface SessionRetry {
  /** Consecutive failed requests, without progress in between, before the upload fails. */
  maxRetries: number;
  /** Seconds before retry n + 1: multiplier^n (plus up to 1 s jitter), at most maxDelay. */
  multiplier: number;
  maxDelay: number;
}

/** What GCS answered the final chunk with (the staging object's resource, as far as it is checked). */
export interface SessionObject {
  size: number;
  crc32c: string;
}

/** A dispatcher for session requests: honours HTTP(S)_PROXY / NO_PROXY as the client's gaxios does. */
export function sessionDispatcher(): Dispatcher {
  return new EnvHttpProxyAgent({ keepAliveTimeout: 30_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
}

/** A failed session request; `status` (when GCS answered) is what gcsStatus reads. */
export class GcsSessionError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'GcsSessionError';
  }
}

export class SessionUpload {
  private readonly stopper = new AbortController();
  /** The request in flight, if any (settle() waits for it). */
  private inFlight: Promise<void> | undefined;
  /** Bytes read from the source into chunks so far (the body's size once it ended). */
  private offset = 0;
  /** The first failed chunk request: what send() rejects with. */
  private failure: { err: unknown } | undefined;
  /** Where the next request starts: what GCS holds once the request in flight settled. */
  private sentFrom = 0;
  private crc = 0;
  /**
   * Bytes of the previous chunk GCS did not keep, fewer than a chunk may
   * hold (MIN_CHUNK): a copy, sent first in the next request. Rare: GCS
   * keeps every byte of a chunk it acknowledges, and a status query after
   * a cut connection may report a prefix.
   */
  private carry: Buffer | undefined;

  constructor(private readonly t: SessionUploadTarget) {}

  /** Stops at once: aborts the request in flight, any wait for a buffer and any wait for the source. */
  stop(): void {
    if (!this.stopper.signal.aborted) this.stopper.abort();
  }

  /** Resolves once no request of this upload is in flight. Never rejects. */
  async idle(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
  }

  /** Sends `source` through the session; resolves with the finalized object once its size and crc32c match. */
  async send(source: AsyncIterable<Buffer>): Promise<SessionObject> {
    const { chunkSize, budget } = this.t;
    const signal = this.stopper.signal;
    let lease: BufferLease | undefined;
    let filled = 0;
    let first = true;
    let sending: Promise<void> | undefined;
    const reads = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const read = await this.nextRead(reads);
        if (read.done) break;
        const data = read.value;
        let off = 0;
        while (off < data.length) {
          if (lease && filled === chunkSize) {
            // A full buffer and more bytes: it is not the last chunk.
            await sending;
            sending = this.dispatch(lease, filled, undefined).then(() => undefined);
            sending.catch(() => undefined); // observed: awaited before the next chunk, or in finally
            lease = undefined;
            filled = 0;
          }
          if (!lease) {
            lease = await budget.acquire(chunkSize, signal, first);
            first = false;
          }
          const n = data.copy(lease.buffer, filled, off);
          off += n;
          filled += n;
        }
        this.throwIfStopped();
      }
      await sending;
      sending = undefined;
      // The source ended of itself (a stopped or failed one throws above): the last chunk names the total.
      this.throwIfStopped();
      const last = lease;
      lease = undefined;
      const object = await this.dispatch(last, filled, this.offset + filled);
      const crc = crc32cToBase64(this.crc);
      if (!object || object.size !== this.offset || object.crc32c !== crc) {
        throw new BlobgateError('storage_error', 'The GCS store finalized an upload whose size or CRC32C differs from the bytes sent; nothing was stored.');
      }
      return object;
    } catch (err) {
      // A failed chunk stopped everything: its error, not what the stop made of a wait, is what happened.
      throw this.failure ? this.failure.err : err;
    } finally {
      if (this.stopper.signal.aborted) void reads.return?.()?.catch(() => undefined);
      lease?.release();
      // A failure while filling: the chunk in flight must not outlive send() unobserved.
      if (sending) {
        this.stop();
        await sending.catch(() => undefined);
      }
      this.carry = undefined;
    }
  }

  /** The source's next bytes, or the upload's failure the moment it stops (stoppable-read.ts). */
  private nextRead(reads: AsyncIterator<Buffer>): Promise<IteratorResult<Buffer>> {
    return nextRead(reads, this.stopper.signal, () => (this.failure ? this.failure.err : stoppedError()));
  }

  /**
   * Sends the next chunk: what the previous one left over, then `n` bytes
   * of `lease` (none on an empty last chunk); `total` on the last. The
   * buffer goes back to the budget once the request settled.
   */
  private dispatch(lease: BufferLease | undefined, n: number, total: number | undefined): Promise<SessionObject | undefined> {
    const parts = this.carry ? [this.carry] : [];
    this.carry = undefined;
    if (lease && n > 0) {
      const data = lease.buffer.subarray(0, n);
      this.crc = crc32c(data, this.crc); // chunks go out in order: the CRC of everything sent
      parts.push(data);
    }
    const from = this.sentFrom;
    const end = this.offset + (lease ? n : 0);
    this.offset = end;
    const p = this.put(parts, from, end, total)
      .then((answer) => {
        if (answer.held === undefined) {
          this.sentFrom = end;
          return answer.object;
        }
        // GCS kept less than was sent, and the rest is too small for a chunk of its own.
        this.carry = Buffer.concat(sliceParts(parts, answer.held - from));
        this.sentFrom = answer.held;
        return undefined;
      })
      .catch((err: unknown) => {
        // Stop reading: the send loop throws this at its next read (throwIfStopped).
        this.failure ??= { err };
        this.stop();
        throw err;
      })
      .finally(() => lease?.release());
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight = settled;
    return p;
  }

  /**
   * Sends bytes [start, end) of the body, held in `parts`; `total` on the
   * last chunk. Resolves once GCS holds them (with `total`: with the object),
   * or, for a chunk that is not the last, with `held` when GCS kept less and
   * the rest is shorter than MIN_CHUNK: the caller sends it with the next chunk.
   */
  private async put(parts: Buffer[], start: number, end: number, total: number | undefined): Promise<{ object?: SessionObject; held?: number }> {
    /** What GCS holds, as far as we know. */
    let known = start;
    /** After a failed request: ask what GCS holds before sending again. */
    let ask = false;
    /** Failed requests since GCS last kept more bytes. */
    let failures = 0;
    for (;;) {
      this.throwIfStopped();
      let answer: Answer;
      try {
        answer = ask ? await this.query() : await this.send1(sliceParts(parts, known - start), known, end, total);
      } catch (err) {
        if (this.stopper.signal.aborted) this.throwIfStopped();
        answer = { kind: 'failed', err, retryable: true };
      }
      if (answer.kind === 'final') {
        if (total === undefined) throw new GcsSessionError('The GCS session finalized the upload before its last chunk.');
        return { object: answer.object };
      }
      if (answer.kind === 'incomplete') {
        const held: number = answer.persisted;
        if (held < start || held > end) {
          throw new GcsSessionError(`The GCS session holds ${held} bytes, outside the chunk ${start}-${end} being sent.`);
        }
        if (total === undefined) {
          if (held === end) return {};
          if (end - held < MIN_CHUNK) return { held };
        }
        // Only progress resets the count: a chunk whose every PUT fails while the status queries succeed
        // still fails after maxRetries, and a PUT answered 308 without progress counts as a failure.
        if (held > known) failures = 0;
        else if (!ask && ++failures > this.t.retry.maxRetries) throw new GcsSessionError('The GCS session made no progress on a chunk.');
        known = held;
        ask = false;
        continue;
      }
      if (!answer.retryable || ++failures > this.t.retry.maxRetries) throw answer.err;
      await sleep(backoffMs(this.t.retry, failures), undefined, { signal: this.stopper.signal }).catch(() => undefined);
      ask = true;
    }
  }

  /** One PUT of bytes [from, end) (no bytes with `total`: the finalizing request). */
  private async send1(body: Buffer[], from: number, end: number, total: number | undefined): Promise<Answer> {
    const length = end - from;
    const headers: Record<string, string> = {
      'content-length': String(length),
      'content-range': length === 0 ? `bytes */${total ?? '*'}` : `bytes ${from}-${end - 1}/${total ?? '*'}`,
    };
    if (total !== undefined) headers['x-goog-hash'] = `crc32c=${crc32cToBase64(this.crc)}`;
    // In slices of at most WRITE_SLICE: undici restarts its headers timeout at every write the socket holds
    // back, so the timeout means "no progress", not "the whole chunk within it" (a large chunk on a slow link).
    return this.call(headers, length === 0 ? undefined : Readable.from(slices(body, WRITE_SLICE), { objectMode: false }));
  }

  /** Asks what the session holds. */
  private query(): Promise<Answer> {
    return this.call({ 'content-length': '0', 'content-range': 'bytes */*' }, undefined);
  }

  private async call(headers: Record<string, string>, body: Buffer | Readable | undefined): Promise<Answer> {
    const res = await request(this.t.uri, { method: 'PUT', headers, body, dispatcher: this.t.dispatcher, signal: this.stopper.signal });
    const status = res.statusCode;
    if (status === 200 || status === 201) {
      const resource = (await res.body.json()) as { size?: unknown; crc32c?: unknown };
      return { kind: 'final', object: { size: Number(resource.size), crc32c: String(resource.crc32c ?? '') } };
    }
    await res.body.dump();
    if (status === 308) return { kind: 'incomplete', persisted: persistedOf(res.headers.range) };
    const err = new GcsSessionError(`The GCS session answered ${status}.`, status);
    return { kind: 'failed', err, retryable: status === 408 || status === 429 || status >= 500 };
  }

  private throwIfStopped(): void {
    if (this.failure) throw this.failure.err;
    if (this.stopper.signal.aborted) throw stoppedError();
  }
}

function stoppedError(): BlobgateError {
  return new BlobgateError('aborted', 'The upload was stopped; nothing was stored.');
}

/** GCS refuses a chunk but the last of fewer bytes. */
const MIN_CHUNK = 256 * 1024;

/** Largest write of a chunk body to the socket (see send1). */
const WRITE_SLICE = 1024 * 1024;

/** The bytes of `parts` in views of at most `size` bytes. */
function* slices(parts: Buffer[], size: number): Generator<Buffer> {
  for (const b of parts) for (let at = 0; at < b.length; at += size) yield b.subarray(at, at + size);
}

/** `parts` without their first `skip` bytes (views, no copy). */
function sliceParts(parts: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of parts) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

type Answer =
  | { kind: 'final'; object: SessionObject }
  | { kind: 'incomplete'; persisted: number }
  /** A request that failed: a status GCS answered, or a connection error (always retryable: the status query says what arrived). */
  | { kind: 'failed'; err: unknown; retryable: boolean };

/** `Range: bytes=0-N` → N + 1; none → 0. */
function persistedOf(range: string | string[] | undefined): number {
  const v = Array.isArray(range) ? range[0] : range;
  if (v === undefined) return 0;
  const m = /^bytes=0-(\d+)$/.exec(v.trim());
  if (!m) throw new GcsSessionError('The GCS session answered an unreadable Range header.');
  return Number(m[1]) + 1;
}

/** The client's backoff (client.ts GcsRetryTiming): multiplier^(n-1) s plus up to 1 s jitter, at most maxDelay s. */
function backoffMs(r: SessionRetry, failures: number): number {
  return Math.min(r.multiplier ** (failures - 1) + Math.random(), r.maxDelay) * 1000;
}
