import type { Stream } from 'node:stream';

/**
 * Gives a stream an owner for its errors from the moment it exists.
 *
 * A stream handed on to a pipeline that starts later — after a wait in the
 * transfer queue, a storage head request, an async hook — has no 'error'
 * listener in between, and an error there (a client resetting its connection,
 * a storage socket dropping) is an uncaught exception that ends the process
 * and every other tenant's transfers with it. The error is not swallowed: it
 * stays on the destroyed stream (`stream.errored`), so the pipeline() or
 * finished() that takes the stream later still rejects with it; and whoever
 * created the stream still destroys it when no consumer ever comes.
 */
export function owned<T extends Stream>(stream: T): T {
  stream.on('error', keptOnStream);
  return stream;
}

function keptOnStream(): void {
  // The error stays on the stream (see owned()); its consumer reports it.
}
