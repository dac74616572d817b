import { BlobgateError } from '../errors.js';
import type { RecordStore } from '../storage/records.js';
import { isJobId, type JobRecord } from './job-record.js';

/**
 * Where jobs and idempotency keys live among a store's records
 * (src/storage/records.ts, docs/jobs.md#records):
 *
 *   workspaces/<ws>/jobs/<id>.json                 the job
 *   workspaces/<ws>/jobs/<id>.cancel               a cancel asked for on any replica
 *   workspaces/<ws>/idempotency/<digest>/<n>.json  attempt n of an idempotency key
 *
 * Every record body is JSON with an `expires-at`; a record past it reads as
 * absent and the sweep removes it.
 */
export interface AttemptRecord {
  attempt: number;
  fingerprint: string;
  job: string;
  'created-at': string;
  'expires-at': string;
}

export interface CancelMarker {
  'requested-at': string;
  'expires-at': string;
}

export class JobStore {
  constructor(readonly records: RecordStore) {}

  async createJob(job: JobRecord): Promise<boolean> {
    return this.records.create(jobKey(job.workspace, job.id), encode(job));
  }

  async putJob(job: JobRecord): Promise<void> {
    await this.records.put(jobKey(job.workspace, job.id), encode(job));
  }

  async deleteJob(workspace: string, id: string): Promise<void> {
    await this.records.delete(jobKey(workspace, id));
  }

  /** The job, or undefined when there is none (or its record expired). Ids that cannot be a job's are absent without a store call. */
  async getJob(workspace: string, id: string, now = Date.now()): Promise<JobRecord | undefined> {
    if (!isJobId(id)) return undefined;
    return live<JobRecord>(await this.records.get(jobKey(workspace, id)), now);
  }

  /** One page of the workspace's job ids, in id order. */
  async listJobIds(workspace: string, opts: { cursor?: string; limit: number }): Promise<{ ids: string[]; cursor?: string }> {
    const page = await this.records.list(`${jobsPrefix(workspace)}`, opts);
    const ids = page.keys.flatMap((k) => {
      const m = /\/jobs\/([^/]+)\.json$/.exec(k);
      return m?.[1] ? [m[1]] : [];
    });
    return { ids, ...(page.cursor ? { cursor: page.cursor } : {}) };
  }

  async requestCancel(workspace: string, id: string, marker: CancelMarker): Promise<void> {
    await this.records.create(cancelKey(workspace, id), encode(marker));
  }

  async cancelRequested(workspace: string, id: string, now = Date.now()): Promise<boolean> {
    return live<CancelMarker>(await this.records.get(cancelKey(workspace, id)), now) !== undefined;
  }

  async clearCancel(workspace: string, id: string): Promise<void> {
    await this.records.delete(cancelKey(workspace, id));
  }

  /**
   * The highest attempt number an idempotency key has a record for (expired
   * ones included: their numbers stay taken until swept), and that attempt
   * when it is still live.
   */
  async attempts(workspace: string, digest: string, now = Date.now()): Promise<{ highest: number; latest?: AttemptRecord }> {
    let highestKey: string | undefined;
    let cursor: string | undefined;
    do {
      const page = await this.records.list(attemptsPrefix(workspace, digest), { limit: 1000, ...(cursor ? { cursor } : {}) });
      highestKey = page.keys.at(-1) ?? highestKey;
      cursor = page.cursor;
    } while (cursor);
    if (!highestKey) return { highest: 0 };
    const highest = Number(/(\d+)\.json$/.exec(highestKey)?.[1] ?? 0);
    const latest = live<AttemptRecord>(await this.records.get(highestKey), now);
    return { highest, ...(latest ? { latest } : {}) };
  }

  /** Claims attempt n of an idempotency key; false when another request claimed it first. */
  async createAttempt(workspace: string, digest: string, a: AttemptRecord): Promise<boolean> {
    return this.records.create(attemptKey(workspace, digest, a.attempt), encode(a));
  }

  async deleteAttempt(workspace: string, digest: string, attempt: number): Promise<void> {
    await this.records.delete(attemptKey(workspace, digest, attempt));
  }

  /**
   * Removes every record under `workspaces/` whose expires-at has passed
   * (jobs, markers, idempotency attempts, and any other record that keeps
   * the same field). Resolves how many went.
   */
  async sweepExpired(now = Date.now()): Promise<number> {
    let removed = 0;
    let cursor: string | undefined;
    do {
      const page = await this.records.list('workspaces/', { limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const key of page.keys) {
        const body = await this.records.get(key);
        if (body && expired(body, now)) {
          await this.records.delete(key);
          removed++;
        }
      }
      cursor = page.cursor;
    } while (cursor);
    return removed;
  }
}

function jobsPrefix(workspace: string): string {
  return `workspaces/${workspace}/jobs/`;
}

function jobKey(workspace: string, id: string): string {
  if (!isJobId(id)) throw new BlobgateError('internal', 'A malformed job id reached the job store.');
  return `${jobsPrefix(workspace)}${id}.json`;
}

function cancelKey(workspace: string, id: string): string {
  if (!isJobId(id)) throw new BlobgateError('internal', 'A malformed job id reached the job store.');
  return `${jobsPrefix(workspace)}${id}.cancel`;
}

function attemptsPrefix(workspace: string, digest: string): string {
  if (!/^[0-9a-f]{64}$/.test(digest)) throw new BlobgateError('internal', 'A malformed idempotency digest reached the job store.');
  return `workspaces/${workspace}/idempotency/${digest}/`;
}

/** Zero-padded, so attempts list in order. */
function attemptKey(workspace: string, digest: string, attempt: number): string {
  return `${attemptsPrefix(workspace, digest)}${String(attempt).padStart(6, '0')}.json`;
}

function encode(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function live<T>(body: Buffer | undefined, now: number): T | undefined {
  if (!body || expired(body, now)) return undefined;
  return JSON.parse(body.toString('utf8')) as T;
}

/** A record past its `expires-at` (or `expiresAt`); a body that is not such JSON never expires here. */
function expired(body: Buffer, now: number): boolean {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { 'expires-at'?: unknown; expiresAt?: unknown };
    const at = parsed['expires-at'] ?? parsed.expiresAt;
    return typeof at === 'string' && Date.parse(at) <= now;
  } catch {
    return false;
  }
}
