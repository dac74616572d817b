/**
 * The source's next bytes, or `stopped()` the moment `signal` aborts: a
 * failed request of an upload ends the write at once, not at the source's
 * next bytes (which may be long in coming — a stalled upstream). Destroying
 * or returning the source is not enough for that: the body a staged write
 * hands on is an async generator over the meter (stream-head.ts `feed`), and
 * a return() waits for the read in progress.
 *
 * Not a Promise.race against one promise that lives as long as the upload:
 * each race leaves a reaction on it holding what the read resolved with, so
 * every byte read would stay reachable until the upload ended (seen: 1.2 GiB
 * RSS for a 1 GiB body). One listener per read, removed when it settles.
 *
 * A read left behind by a stop settles later (the caller's cleanup destroys
 * the source): its result is dropped, its rejection handled here. Whoever
 * stops returns the iterator.
 */
export function nextRead<T>(reads: AsyncIterator<T>, signal: AbortSignal, stopped: () => unknown): Promise<IteratorResult<T>> {
  if (signal.aborted) return Promise.reject(stopped());
  return new Promise((resolve, reject) => {
    const onStop = (): void => reject(stopped());
    signal.addEventListener('abort', onStop, { once: true });
    reads.next().then(
      (read) => {
        signal.removeEventListener('abort', onStop);
        resolve(read);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onStop);
        reject(err);
      },
    );
  });
}
