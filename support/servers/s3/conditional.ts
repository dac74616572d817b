// Conditional writes for the fauxqs harness (support/servers/s3/fauxqs.ts), which fauxqs 1.9.2 ignores.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorXml } from './fauxqs.js';

/** What the harness needs to see of fauxqs's object state. */
export interface ObjectState {
  /** The stored object's ETag (quoted, as S3 gives it), or undefined when there is none. */
  etag(bucket: string, key: string): string | undefined;
}

/**
 * Enforces `If-None-Match: *` and `If-Match: <etag>` on PutObject, CopyObject
 * and CompleteMultipartUpload, as S3 does (docs/testing.md#s3-fauxqs-behind-a-sigv4-verifying-proxy):
 *
 * - `If-None-Match: *` and an object at the key → 412 PreconditionFailed;
 *   any other If-None-Match value → 501 NotImplemented (S3 accepts only `*`).
 * - `If-Match` and no object → 404 NoSuchKey; another ETag → 412.
 *
 * Atomic per key: a conditional write holds its key from the check until its
 * answer is sent (fauxqs commits in the handler, before answering), and the
 * next conditional write of that key waits for it, so of N concurrent
 * `If-None-Match: *` writes exactly one commits and the others see its
 * object. (Today fauxqs's handler runs in the same turn of the event loop as
 * this check, so the race test passes even without the lock; the lock keeps
 * the check atomic should anything asynchronous come between them.) (Real S3 may answer a loser 409 ConditionalRequestConflict while
 * the winner is in flight; the harness always serialises, which is the
 * outcome S3 reaches once the client retries the 409.) Unconditional
 * writes take no lock, as they need none.
 */
export function enforceConditionalWrites(app: FastifyInstance, objects: ObjectState): ConditionalControl {
  const locks = new KeyLocks();
  const conflicts = { left: 0, hits: 0 };
  app.addHook('preHandler', async (request, reply) => {
    const target = conditionalTarget(request);
    if (target === undefined) return;
    if (conflicts.left > 0) {
      conflicts.left--;
      conflicts.hits++;
      await reply.status(409).header('content-type', 'application/xml').send(errorXml('ConditionalRequestConflict', 'A conflicting operation occurred. If using PutObject you can retry the request. (injected)'));
      return;
    }
    const release = await locks.acquire(`${target.bucket}\n${target.key}`);
    // Held until the answer is out (or the client left), whether it is fauxqs's or ours.
    reply.raw.once('close', release);
    const refusal = refuse(request.headers, objects.etag(target.bucket, target.key));
    if (refusal === undefined) return;
    await reply.status(refusal.status).header('content-type', 'application/xml').send(errorXml(refusal.code, refusal.message));
  });
  return {
    conflict: (times) => {
      conflicts.left = times;
      conflicts.hits = 0;
      return {
        get hits() {
          return conflicts.hits;
        },
      };
    },
  };
}

export interface ConditionalControl {
  /**
   * The next `times` conditional writes are answered 409
   * ConditionalRequestConflict and not carried out: what S3 answers a
   * conditional write that meets a concurrent operation on its key.
   */
  conflict(times: number): { readonly hits: number };
}

function conditionalTarget(request: FastifyRequest): { bucket: string; key: string } | undefined {
  const h = request.headers;
  if (h['if-none-match'] === undefined && h['if-match'] === undefined) return undefined;
  const params = request.params as { bucket?: string; '*'?: string } | undefined;
  const bucket = params?.bucket;
  const key = params?.['*'];
  if (!bucket || !key) return undefined;
  const q = new URL(request.url, 'http://x').searchParams;
  const isPut = request.method === 'PUT' && !(q.has('uploadId') && q.has('partNumber'));
  const isComplete = request.method === 'POST' && q.has('uploadId');
  return isPut || isComplete ? { bucket, key } : undefined;
}

function refuse(headers: FastifyRequest['headers'], etag: string | undefined): { status: number; code: string; message: string } | undefined {
  const noneMatch = headers['if-none-match'];
  if (noneMatch !== undefined) {
    if (noneMatch.trim() !== '*') return { status: 501, code: 'NotImplemented', message: 'A header you provided implies functionality that is not implemented' };
    if (etag !== undefined) return preconditionFailed();
  }
  const match = headers['if-match'];
  if (match !== undefined) {
    if (etag === undefined) return { status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.' };
    const wanted = match.split(',').map((s) => s.trim().replace(/^W\//, ''));
    if (!wanted.includes('*') && !wanted.includes(etag)) return preconditionFailed();
  }
  return undefined;
}

const preconditionFailed = () => ({ status: 412, code: 'PreconditionFailed', message: 'At least one of the pre-conditions you specified did not hold' });

/** One holder per key at a time, served in arrival order. */
class KeyLocks {
  private readonly tails = new Map<string, Promise<void>>();

  async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}
