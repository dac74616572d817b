import type { Bucket, File } from '@google-cloud/storage';

/**
 * GCS `objects.compose`: one new object (generation) made of up to
 * MAX_COMPOSE_SOURCES objects of the bucket, in order, without a byte being
 * copied by the caller (https://cloud.google.com/storage/docs/composing-objects,
 * JSON API `POST /storage/v1/b/:bucket/o/:destination/compose`).
 *
 * Sent through `File.request` rather than `Bucket.combine`, because combine
 * puts only `contentType`, `contentEncoding` and `contexts` into the
 * destination resource (bucket.js `combine`), and the publishing compose must
 * set the complete custom metadata (incl. `bg-sha256`) in the same request:
 * the object appears with it or not at all. The request goes through the
 * client's retry machinery like every other (client.ts: under `RetryAlways`
 * a compose is retried; combine's own RetryConditional rule would not retry
 * one without `ifGenerationMatch`). Sent twice, a compose of the same
 * sources (pinned by generation) produces the same bytes and metadata, so a
 * retry after a lost answer is harmless.
 *
 * What GCS promises and blobgate relies on: the result's size is the sum of
 * the sources', its CRC32C is computed from theirs (a composite object has
 * no MD5), `componentCount` is the number of non-composite objects it is
 * made of, at most MAX_COMPONENT_COUNT, and the sources are left in place
 * (the caller deletes them).
 */
export const MAX_COMPOSE_SOURCES = 32;
export const MAX_COMPONENT_COUNT = 1024;

/** An object that can be a compose source: its name and the generation it must have. */
export interface ComposeSource {
  name: string;
  generation: string | number | undefined;
}

/** The destination resource of a compose: what the new object carries. */
export interface ComposeDestination {
  contentType: string;
  metadata: Record<string, string>;
}

/**
 * Composes `sources` into `dest`. Resolves with the new object's generation.
 * `ifGenerationMatch` (when given) is the destination's precondition, e.g. 0
 * for a name that must be fresh.
 */
export async function compose(dest: File, sources: ComposeSource[], destination: ComposeDestination, ifGenerationMatch?: number): Promise<ComposeSource> {
  if (sources.length === 0 || sources.length > MAX_COMPOSE_SOURCES) throw new RangeError(`a compose takes 1 to ${MAX_COMPOSE_SOURCES} sources, got ${sources.length}`);
  const [body] = await dest.request({
    method: 'POST',
    uri: '/compose',
    json: {
      destination,
      sourceObjects: sources.map((s) => (s.generation === undefined ? { name: s.name } : { name: s.name, generation: Number(s.generation) })),
    },
    ...(ifGenerationMatch === undefined ? {} : { qs: { ifGenerationMatch } }),
  });
  const generation = (body as { generation?: string | number } | undefined)?.generation;
  return { name: dest.name, generation };
}

/**
 * Reduces `sources` to at most MAX_COMPOSE_SOURCES by composing runs of them
 * (in order) into intermediate objects named by `nameOf(level, index)`,
 * level after level: 1024 parts take 32 intermediates and one level. Each
 * intermediate is announced through `created` before its request is sent
 * (so a failed write's cleanup knows every name that may exist) and the
 * sources it consumed are handed to `consumed` once it exists. Composes of
 * one level run `parallel` at a time.
 */
export async function reduceSources(
  bucket: Bucket,
  sources: ComposeSource[],
  opts: {
    nameOf: (level: number, index: number) => string;
    destination: ComposeDestination;
    parallel: number;
    created: (name: string) => void;
    consumed: (sources: ComposeSource[]) => void;
  },
): Promise<ComposeSource[]> {
  let level = 0;
  let current = sources;
  while (current.length > MAX_COMPOSE_SOURCES) {
    level++;
    const runs: ComposeSource[][] = [];
    for (let i = 0; i < current.length; i += MAX_COMPOSE_SOURCES) runs.push(current.slice(i, i + MAX_COMPOSE_SOURCES));
    current = await mapLimit(runs, opts.parallel, async (run, index) => {
      if (run.length === 1) return run[0]!;
      const name = opts.nameOf(level, index);
      opts.created(name);
      // No precondition: the name is fresh, and sent twice the compose makes the same object.
      const made = await compose(bucket.file(name), run, opts.destination);
      opts.consumed(run);
      return made;
    });
  }
  return current;
}

/** `fn` over `items`, at most `limit` at a time, results in order; rejects with the first failure once every started call has settled. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
  return out;
}
