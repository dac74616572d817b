import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { BlobgateError, isBlobgateError } from '../errors.js';
import { RECORD_MAX_BYTES } from '../storage/records.js';
import type { CallbackSpec } from './callback.js';
import { isTerminal, newJobId, observed, type JobError, type JobRecord, type JobState } from './job-record.js';
import type { JobStore } from './job-store.js';

/**
 * Runs transfer jobs and answers for them from their records
 * (docs/jobs.md). A job's record lives in the store, so the replica that
 * runs it and the replica that answers need not be the same: the owner
 * rewrites the record once a heartbeat (bytes, rate, liveness) and looks for
 * a cancel marker at the same moment; a replica that finds the heartbeat
 * older than `lostAfterMs` reports the job lost. Record writes per running
 * job: one put and one get per heartbeat, plus a create and a final put —
 * never one per chunk.
 *
 * Idempotency keys (docs/jobs.md#idempotency) are claimed with the store's
 * exclusive create: attempt n of a key is a record only one request can
 * create, written after its job record, so whoever finds an attempt finds
 * its job. A key whose latest job is lost (or ended before anything ran)
 * may be claimed again as attempt n+1.
 */
export interface JobEngineOptions {
  heartbeatMs: number;
  lostAfterMs: number;
  /** How long a job's record stays after the job ended. */
  retentionMs: number;
  /** How long an idempotency key holds. */
  idempotencyRetentionMs: number;
  /** Told about record writes that failed (the job goes on). */
  onWriteError?: (err: unknown, job: JobRecord) => void;
  /** Told when a job ends, with its final record (callbacks, metrics). */
  onDone?: (job: JobRecord) => void;
}

/** What a job's work is handed. */
export interface JobControl {
  readonly controller: AbortController;
  /** The work got its transfer slot and began. */
  started(): void;
  /** `n` more bytes moved into the store. */
  moved(n: number): void;
  /** A new store write began (the transfer started over): the bytes count from zero again. */
  rewind(): void;
  /** The size the source announced. */
  total(bytes: number): void;
}

/** What the synchronous call would have answered: its status and body. */
export interface JobAnswer {
  status: number;
  body: unknown;
  /** Upstream attempts the transfer took. */
  attempts?: number;
}

export interface IdempotencyClaim {
  /** The header's value, as given. */
  key: string;
  /** sha256 hex of the route and key: the key's record folder. */
  digest: string;
  /** sha256 hex of the canonical request (workspace, route, body). */
  fingerprint: string;
}

export interface Submission {
  workspace: string;
  kind: JobRecord['kind'];
  idempotency?: IdempotencyClaim;
  callback?: CallbackSpec;
  /** Asked just before a new job would start (never for a replay): a refusal it answers is thrown, and no job is recorded. */
  admit?: () => BlobgateError | undefined;
  /** Errors after which the key may run the job again (an upload whose client left: its body is gone). */
  restartable?: (error: JobError) => boolean;
  work: (ctl: JobControl) => Promise<JobAnswer>;
}

interface Running {
  record: JobRecord;
  controller: AbortController;
  bytes: number;
  total?: number;
  startedAt?: number;
  rate: number;
  lastBeat: { at: number; bytes: number };
  /** The record write in flight, if any: writes of one job never overlap. */
  writing?: Promise<void>;
  cancelSeen: boolean;
  /** When the record was last written: the time other replicas judge this job's liveness by. */
  lastWritten: number;
  events: EventEmitter;
  done: Promise<JobRecord>;
}

/** Why a job's controller fired, when the engine fired it. */
class EngineAbort extends BlobgateError {
  constructor(
    readonly why: 'cancelled' | 'shutdown' | 'fenced',
    message: string,
  ) {
    super('aborted', message, { reason: why });
  }
}

const CREATE_ROUNDS = 8;
const FINAL_WRITE_DELAYS_MS = [0, 200, 1000, 3000];

export class JobEngine {
  /** This process's name in the records it owns. */
  readonly replica = randomUUID();
  private readonly running = new Map<string, Running>();
  /** Work a job left to finish after it ended (its callback), which shutdown waits for. */
  private readonly background = new Set<Promise<unknown>>();
  private closing = false;

  constructor(
    private readonly store: JobStore,
    private readonly opts: JobEngineOptions,
  ) {}

  /**
   * Starts a job, or — for an idempotency key already claimed by the same
   * request — finds the job that holds it (`replayed`). Resolves once the
   * job's record exists; the work runs on in the background. Rejects
   * `idempotency_key_reused` (the key was used for a different request).
   */
  async submit(sub: Submission): Promise<{ job: JobRecord; replayed: boolean }> {
    if (this.closing) throw new BlobgateError('aborted', 'blobgate is shutting down; submit the job to another instance.');
    for (let round = 0; round < CREATE_ROUNDS; round++) {
      let attempt = 0;
      if (sub.idempotency) {
        const found = await this.holder(sub.workspace, sub.idempotency);
        if (found.job) return { job: found.job, replayed: true };
        attempt = found.next;
      }
      const refused = sub.admit?.();
      if (refused) throw refused;
      const now = new Date();
      const job: JobRecord = {
        id: newJobId(),
        workspace: sub.workspace,
        kind: sub.kind,
        state: 'queued',
        'created-at': now.toISOString(),
        'updated-at': now.toISOString(),
        'expires-at': new Date(now.getTime() + this.opts.retentionMs).toISOString(),
        bytes: 0,
        'bytes-per-second': 0,
        attempts: 0,
        ...(sub.idempotency ? { 'idempotency-key': sub.idempotency.key } : {}),
        ...(sub.callback ? { callback: sub.callback } : {}),
        owner: this.replica,
        'heartbeat-at': now.toISOString(),
        seq: 0,
      };
      if (!(await this.store.createJob(job))) throw new BlobgateError('internal', 'A fresh job id was already taken.');
      if (sub.idempotency) {
        const { digest, fingerprint } = sub.idempotency;
        const created = await this.store.createAttempt(sub.workspace, digest, {
          attempt,
          fingerprint,
          job: job.id,
          'created-at': job['created-at'],
          'expires-at': new Date(now.getTime() + this.opts.idempotencyRetentionMs).toISOString(),
        });
        if (!created) {
          // Another request (on any replica) claimed this attempt first: ours never ran; look again.
          await this.store.deleteJob(sub.workspace, job.id);
          continue;
        }
      }
      this.start(job, sub);
      return { job, replayed: false };
    }
    throw new BlobgateError('overloaded', 'Requests with this Idempotency-Key keep racing each other; retry in a moment.', { 'retry-after-seconds': 1 });
  }

  /** The job as any replica sees it now, or undefined. */
  async get(workspace: string, id: string): Promise<JobRecord | undefined> {
    const record = await this.store.getJob(workspace, id);
    return record && observed(record, Date.now(), this.opts.lostAfterMs);
  }

  /** One page of the workspace's jobs, optionally of one state. */
  async list(workspace: string, opts: { state?: JobState; limit: number; cursor?: string }): Promise<{ items: JobRecord[]; cursor?: string }> {
    const page = await this.store.listJobIds(workspace, { limit: opts.limit, ...(opts.cursor ? { cursor: opts.cursor } : {}) });
    const items: JobRecord[] = [];
    for (const id of page.ids) {
      const job = await this.get(workspace, id);
      if (job && (opts.state === undefined || job.state === opts.state)) items.push(job);
    }
    return { items, ...(page.cursor ? { cursor: page.cursor } : {}) };
  }

  /**
   * Yields the job each time its record changes (seq above `afterSeq`), and
   * last its final state; returns when the job ended, when it does not
   * exist, or when `signal` fires. The owner's record writes are the
   * changes, so any replica sees the same sequence.
   */
  async *watch(workspace: string, id: string, signal: AbortSignal, afterSeq = -1): AsyncGenerator<JobRecord> {
    let seen = afterSeq;
    while (!signal.aborted) {
      const job = await this.get(workspace, id);
      if (!job) return;
      if (job.seq > seen || isTerminal(job.state)) {
        seen = job.seq;
        yield job;
      }
      if (isTerminal(job.state)) return;
      await this.nextChange(workspace, id, signal);
    }
  }

  /** Waits for the job to end (or `signal`); resolves its final record, or the last one seen. */
  async settle(workspace: string, id: string, signal: AbortSignal): Promise<JobRecord | undefined> {
    const mine = this.running.get(runKey(workspace, id));
    if (mine) {
      const aborted = new Promise<undefined>((resolve) => signal.addEventListener('abort', () => resolve(undefined), { once: true }));
      const done = await Promise.race([mine.done, aborted]);
      if (done) return observed(done, Date.now(), this.opts.lostAfterMs);
    }
    let last: JobRecord | undefined;
    for await (const job of this.watch(workspace, id, signal)) last = job;
    return last;
  }

  /**
   * Cancels the job wherever it runs: here, by aborting it; elsewhere, by a
   * cancel marker its owner finds within a heartbeat. Resolves the job once
   * it ended, or as last seen when its owner did not answer within
   * `waitMs`; undefined when there is no such job. A job that already ended
   * is answered as it is (cancelling is idempotent).
   */
  async cancel(workspace: string, id: string, waitMs = this.opts.lostAfterMs + 2 * this.opts.heartbeatMs): Promise<JobRecord | undefined> {
    const mine = this.running.get(runKey(workspace, id));
    if (mine) {
      mine.cancelSeen = true;
      mine.controller.abort(new EngineAbort('cancelled', 'The job was cancelled; its transfer was aborted and nothing was stored.'));
      return observed(await mine.done, Date.now(), this.opts.lostAfterMs);
    }
    const job = await this.get(workspace, id);
    if (!job || isTerminal(job.state)) return job;
    const now = Date.now();
    await this.store.requestCancel(workspace, id, { 'requested-at': new Date(now).toISOString(), 'expires-at': new Date(now + this.opts.retentionMs).toISOString() });
    return this.settle(workspace, id, AbortSignal.timeout(waitMs));
  }

  /**
   * Removes expired job and idempotency records (and any record with an
   * `expires-at` that has passed). Every replica may run it; deletes are
   * idempotent.
   */
  sweepExpired(now = Date.now()): Promise<number> {
    return this.store.sweepExpired(now);
  }

  /** Jobs of this replica still running. */
  get active(): number {
    return this.running.size;
  }

  /**
   * Shutting down: no new job starts here, and a job aborted from now on
   * (by the shutdown's deadline) ends as lost, so its idempotency key may
   * run it again on another replica. Resolves when every job here has
   * written its last record and every callback is delivered (or given up),
   * or when `abortAfterMs` has passed for the callbacks.
   */
  async close(abortAfterMs = 0): Promise<void> {
    this.closing = true;
    const started = Date.now();
    const jobs = [...this.running.values()];
    const timer = setTimeout(() => {
      for (const j of jobs) j.controller.abort(new EngineAbort('shutdown', 'blobgate shut down during the transfer; nothing was stored. Submit it again.'));
    }, abortAfterMs);
    try {
      await Promise.all(jobs.map((j) => j.done));
    } finally {
      clearTimeout(timer);
    }
    // Callbacks still being delivered (or waiting to retry) get what is left of the deadline.
    if (this.background.size > 0) {
      const left = Math.max(0, abortAfterMs - (Date.now() - started));
      await Promise.race([Promise.allSettled([...this.background]), new Promise((r) => setTimeout(r, left).unref())]);
    }
  }

  /** Keeps `work` that a job started as it ended (its callback) until it settles; close() waits for it. */
  keep(work: Promise<unknown>): void {
    const kept = work.catch(() => undefined).finally(() => this.background.delete(kept));
    this.background.add(kept);
  }


  private start(record: JobRecord, sub: Submission): void {
    const controller = new AbortController();
    let resolveDone!: (job: JobRecord) => void;
    const done = new Promise<JobRecord>((resolve) => (resolveDone = resolve));
    const run: Running = { record, controller, bytes: 0, rate: 0, lastBeat: { at: Date.now(), bytes: 0 }, cancelSeen: false, lastWritten: Date.now(), events: new EventEmitter(), done };
    run.events.setMaxListeners(0);
    this.running.set(runKey(record.workspace, record.id), run);
    const timer = setInterval(() => void this.beat(run), this.opts.heartbeatMs);
    const ctl: JobControl = {
      controller,
      started: () => {
        run.startedAt = Date.now();
        run.lastBeat = { at: run.startedAt, bytes: run.bytes };
        void this.write(run, { state: 'running' });
      },
      moved: (n) => {
        run.bytes += n;
      },
      rewind: () => {
        run.bytes = 0;
        run.lastBeat = { at: Date.now(), bytes: 0 };
      },
      total: (bytes) => {
        run.total = bytes;
      },
    };
    let work: Promise<JobAnswer>;
    try {
      work = sub.work(ctl);
    } catch (err) {
      work = Promise.reject(err);
    }
    void work
      .then(
        (answer): Partial<JobRecord> => ({ state: 'succeeded', result: answer.body, status: answer.status, ...(answer.attempts !== undefined ? { attempts: answer.attempts } : {}) }),
        (err: unknown): Partial<JobRecord> => {
          const end = this.failure(run, err);
          return end.state === 'failed' && end.error && sub.restartable?.(end.error) ? { ...end, restartable: true } : end;
        },
      )
      .then(async (end) => {
        clearInterval(timer);
        const final = await this.finish(run, end);
        this.running.delete(runKey(record.workspace, record.id));
        resolveDone(final);
        this.opts.onDone?.(final);
      });
  }

  /** The final state of a job whose work failed. */
  private failure(run: Running, err: unknown): Partial<JobRecord> {
    const reason = run.controller.signal.aborted ? run.controller.signal.reason : undefined;
    const error = toJobError(reason instanceof EngineAbort ? reason : err);
    if (reason instanceof EngineAbort && reason.why === 'cancelled') return { state: 'cancelled', error, status: 503 };
    const status = isBlobgateError(err) ? err.status : 500;
    // Shut down here, or refused before its transfer began: nothing ran, so the key may run it again.
    if ((reason instanceof EngineAbort && reason.why !== 'cancelled') || (this.closing && error.code === 'aborted')) return { state: 'lost', error, status, restartable: true };
    if (run.startedAt === undefined && (error.code === 'overloaded' || error.code === 'aborted')) return { state: 'failed', error, status, restartable: true };
    return { state: 'failed', error, status };
  }

  /** A heartbeat: the record with the bytes so far, then a look for a cancel marker. */
  private async beat(run: Running): Promise<void> {
    if (run.writing || run.controller.signal.aborted) return;
    const now = Date.now();
    const dt = (now - run.lastBeat.at) / 1000;
    if (run.startedAt !== undefined && dt > 0) {
      const instant = (run.bytes - run.lastBeat.bytes) / dt;
      run.rate = run.rate === 0 ? instant : 0.5 * run.rate + 0.5 * instant;
    }
    run.lastBeat = { at: now, bytes: run.bytes };
    await this.write(run, {});
    // Fencing: a job whose record this replica cannot write is about to read as lost everywhere, and its key
    // may then run it again elsewhere; it stops here first, so the transfer never runs twice.
    if (Date.now() - run.lastWritten > this.opts.lostAfterMs - this.opts.heartbeatMs && !run.controller.signal.aborted) {
      const seconds = Math.round((Date.now() - run.lastWritten) / 1000);
      run.controller.abort(new EngineAbort('fenced', `This replica could not write the job's record for ${seconds} s, so other replicas report it lost and its Idempotency-Key may run it again; the transfer was stopped here so it never runs twice. Nothing was stored.`));
      return;
    }
    if (run.cancelSeen || run.controller.signal.aborted) return;
    try {
      if (await this.store.cancelRequested(run.record.workspace, run.record.id)) {
        run.cancelSeen = true;
        run.controller.abort(new EngineAbort('cancelled', 'The job was cancelled; its transfer was aborted and nothing was stored.'));
      }
    } catch (err) {
      this.opts.onWriteError?.(err, run.record);
    }
  }

  /** Writes the record with `change` and the live counters; a failed write is reported, and the next heartbeat tries again. */
  private async write(run: Running, change: Partial<JobRecord>): Promise<void> {
    while (run.writing) await run.writing;
    const now = new Date().toISOString();
    run.record = {
      ...run.record,
      ...change,
      bytes: run.bytes,
      ...(run.total !== undefined ? { 'total-bytes': run.total } : {}),
      'bytes-per-second': Math.round(run.rate),
      'updated-at': now,
      'heartbeat-at': now,
      seq: run.record.seq + 1,
    };
    const record = run.record;
    run.writing = this.store.putJob(record).then(
      () => {
        run.lastWritten = Date.now();
        run.events.emit('write');
      },
      (err: unknown) => this.opts.onWriteError?.(err, record),
    );
    try {
      await run.writing;
    } finally {
      run.writing = undefined;
    }
  }

  /** The last record of a job: its end state, retried a few times so a store hiccup does not leave it to be found lost. */
  private async finish(run: Running, end: Partial<JobRecord>): Promise<JobRecord> {
    while (run.writing) await run.writing;
    const now = Date.now();
    const elapsed = run.startedAt !== undefined ? (now - run.startedAt) / 1000 : 0;
    const rate = elapsed > 0 ? run.bytes / elapsed : 0;
    run.record = {
      ...run.record,
      ...end,
      bytes: run.bytes,
      ...(run.total !== undefined ? { 'total-bytes': run.total } : {}),
      'bytes-per-second': Math.round(rate),
      'updated-at': new Date(now).toISOString(),
      'heartbeat-at': new Date(now).toISOString(),
      'expires-at': new Date(now + this.opts.retentionMs).toISOString(),
      seq: run.record.seq + 1,
    };
    // An answer too large for a record (an inline body near limits.inline-bytes) would never be written, and the job
    // would read as lost for ever; it ends failed instead, the same on every replica.
    const size = Buffer.byteLength(JSON.stringify(run.record), 'utf8');
    if (size > RECORD_MAX_BYTES) {
      const { result: _result, ...rest } = run.record;
      const error = new BlobgateError('inline_limit_exceeded', `The job's answer (${size} bytes as a job record) is larger than a job can keep (${RECORD_MAX_BYTES} bytes); add a persist spec, or run the step synchronously without an Idempotency-Key.`, { 'record-bytes': size, 'limit-bytes': RECORD_MAX_BYTES });
      run.record = { ...rest, state: 'failed', error: toJobError(error), status: error.status };
    }
    for (const delay of FINAL_WRITE_DELAYS_MS) {
      if (delay) await new Promise((r) => setTimeout(r, delay));
      try {
        await this.store.putJob(run.record);
        break;
      } catch (err) {
        this.opts.onWriteError?.(err, run.record);
      }
    }
    run.events.emit('write');
    if (run.cancelSeen) await this.store.clearCancel(run.record.workspace, run.record.id).catch((err: unknown) => this.opts.onWriteError?.(err, run.record));
    return run.record;
  }

  /** Resolves at the job's next record write here, or after a heartbeat, or when `signal` fires. */
  private async nextChange(workspace: string, id: string, signal: AbortSignal): Promise<void> {
    const mine = this.running.get(runKey(workspace, id));
    const timeout = AbortSignal.timeout(this.opts.heartbeatMs);
    const either = AbortSignal.any([signal, timeout]);
    if (mine) {
      await once(mine.events, 'write', { signal: either }).catch(() => undefined);
      return;
    }
    await new Promise<void>((resolve) => {
      if (either.aborted) return resolve();
      either.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /** The job holding an idempotency key, or the attempt number a new job would claim. */
  private async holder(workspace: string, claim: IdempotencyClaim): Promise<{ job?: JobRecord; next: number }> {
    const { highest, latest } = await this.store.attempts(workspace, claim.digest);
    if (!latest) return { next: highest + 1 };
    if (latest.fingerprint !== claim.fingerprint) {
      throw new BlobgateError(
        'idempotency_key_reused',
        'This Idempotency-Key was already used for a different request in this workspace; send a new key for a new request (a key holds for jobs.idempotency-retention-seconds).',
        { 'idempotency-key': claim.key, job: latest.job },
      );
    }
    const job = await this.get(workspace, latest.job);
    if (!job || job.restartable) return { next: highest + 1 };
    return { job, next: highest };
  }
}

function runKey(workspace: string, id: string): string {
  return `${workspace}\u0000${id}`;
}

function toJobError(err: unknown): JobError {
  if (isBlobgateError(err)) {
    const body = err.toJSON().error as JobError;
    return { code: body.code, message: body.message, ...(body.details ? { details: body.details } : {}) };
  }
  return { code: 'internal', message: 'An unexpected fault inside blobgate; the log holds the detail.' };
}
