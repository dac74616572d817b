import { randomBytes } from 'node:crypto';
import type { ErrorCode } from '../errors.js';
import type { CallbackSpec } from './callback.js';

/**
 * A transfer job as its record keeps it (docs/jobs.md). The record is the
 * job: the replica that runs it rewrites it about once a heartbeat, and any
 * replica answers from it.
 */
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'lost';
export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'lost'];

export interface JobError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export interface JobRecord {
  id: string;
  workspace: string;
  /** What the job runs: an HTTP step (POST /v1/workspaces/:ws/http) or an upload. */
  kind: 'step' | 'upload';
  state: JobState;
  'created-at': string;
  'updated-at': string;
  /** When the record goes (jobs.retention-seconds after the job ended, or after it was created while it runs). */
  'expires-at': string;
  bytes: number;
  'total-bytes'?: number;
  'bytes-per-second': number;
  attempts: number;
  /** Exactly the body the synchronous call would have answered with. */
  result?: unknown;
  /** The catalogue error body's `error` member. */
  error?: JobError;
  /** The HTTP status the synchronous call would have answered with. */
  status?: number;
  'idempotency-key'?: string;
  /** Where the final job is POSTed when it ends (src/jobs/callback.ts). */
  callback?: CallbackSpec;
  /** Which replica runs the job (a process id of its own, never a host name). */
  owner: string;
  /** The owner's last write; a queued or running job whose heartbeat is older than jobs.lost-after-seconds is lost. */
  'heartbeat-at': string;
  /** Bumped on every write: the id of the job's server-sent events. */
  seq: number;
  /**
   * The job ended before any upstream byte moved or its replica went away
   * (refused by the transfer gate, shut down, lost): a new attempt with the
   * same idempotency key may run it again.
   */
  restartable?: boolean;
}

export function isTerminal(state: JobState): boolean {
  return state !== 'queued' && state !== 'running';
}

/** 18 random bytes (144 bits) as base64url: unguessable, and safe as a path segment and a record key. */
export function newJobId(): string {
  return `job_${randomBytes(18).toString('base64url')}`;
}

const JOB_ID = /^job_[A-Za-z0-9_-]{24}$/;

export function isJobId(id: string): boolean {
  return JOB_ID.test(id);
}

/**
 * The job as a replica reads it at `now`: a queued or running job whose owner
 * has not written for `lostAfterMs` is lost (its replica died or was cut off).
 */
export function observed(record: JobRecord, now: number, lostAfterMs: number): JobRecord {
  if (isTerminal(record.state) || now - Date.parse(record['heartbeat-at']) <= lostAfterMs) return record;
  return {
    ...record,
    state: 'lost',
    restartable: true,
    error: {
      code: 'aborted',
      message: `The replica running this job stopped reporting (no heartbeat for ${Math.round(lostAfterMs / 1000)} s): it crashed or was cut off. Submit the step again; with the same Idempotency-Key that starts a new attempt.`,
      details: { reason: 'lost' },
    },
    status: 503,
  };
}

/** What the API shows of a job: the record without the fields replicas keep for themselves. */
export type PublicJob = Omit<JobRecord, 'owner' | 'heartbeat-at' | 'seq' | 'restartable' | 'status' | 'workspace' | 'kind'>;

export function publicJob(record: JobRecord): PublicJob {
  const { owner: _owner, 'heartbeat-at': _heartbeat, seq: _seq, restartable: _restartable, status: _status, workspace: _ws, kind: _kind, ...shown } = record;
  return shown;
}
