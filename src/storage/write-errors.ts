import type { Readable, Stream } from 'node:stream';
import { BlobgateError } from '../errors.js';

/**
 * Shared by the drivers: finds where a failed write started. `pipeline`
 * destroys every stream with the first error, so the body also emits a
 * storage error that began downstream; the first 'error' event seen tells the
 * origin. Only an error that began in the source is a source error, passed
 * through unchanged (e.g. `upstream_timeout`).
 */
export function watchBody(body: Readable, ...stages: Stream[]): { readonly error: unknown; dispose(): void } {
  const state: { origin?: 'source' | 'stage'; error?: unknown } = {};
  const onBody = (err: unknown): void => {
    if (state.origin === undefined) Object.assign(state, { origin: 'source', error: err });
  };
  const onStage = (err: unknown): void => {
    if (state.origin === undefined) Object.assign(state, { origin: 'stage', error: err });
  };
  body.on('error', onBody);
  for (const s of stages) s.on('error', onStage);
  return {
    get error() {
      return state.origin === 'source' ? state.error : undefined;
    },
    dispose: () => {
      body.off('error', onBody);
      for (const s of stages) s.off('error', onStage);
    },
  };
}

/**
 * The error a driver's write rejects with, by precedence: the abort reason,
 * the source's own error (passed through unchanged: the source's owner knows
 * what it means), a driver error (cap_exceeded …), else storage_error.
 */
export function writeFailure(err: unknown, ctx: { signal: AbortSignal; bodyError: unknown; what: string }): unknown {
  if (ctx.signal.aborted) return abortError(ctx.signal);
  if (ctx.bodyError !== undefined) return ctx.bodyError;
  if (err instanceof BlobgateError) return err;
  return new BlobgateError('storage_error', `The storage backend failed while ${ctx.what}; nothing was stored.`, undefined, { cause: err });
}

export function abortError(signal: AbortSignal): BlobgateError {
  const reason: unknown = signal.reason;
  if (reason instanceof BlobgateError) return reason;
  return new BlobgateError('aborted', 'The transfer was aborted before it completed; nothing was stored.', undefined, { cause: reason });
}

/**
 * Runs the request that makes an object visible (a PutObject, a CopyObject, a
 * rewrite). When it fails, the backend is asked whether it took effect anyway
 * (a reply lost after the commit): a write must not report failure while its
 * object is visible. Transient failures are retried inside `send` by the SDK's
 * own retry machinery (src/storage/s3/client.ts, src/storage/gcs/client.ts).
 */
export async function commitOrConfirm(send: () => Promise<unknown>, committed: () => Promise<boolean>): Promise<void> {
  try {
    await send();
  } catch (err) {
    if (await committed().catch(() => false)) return;
    throw err;
  }
}
