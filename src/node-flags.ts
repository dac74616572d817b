/**
 * The node flags the gateway runs with wherever this repository starts it:
 * `npm start` (package.json), the container (the Dockerfile's CMD),
 * `blobgate serve` (src/cli/commands/serve.ts), the bench, `npm run
 * measure:rss` and the tests that run it as a child process. package.json
 * and the Dockerfile cannot import this, so test/node-flags.test.ts holds
 * them to it. V8 reads these when the process starts
 * (`v8.setFlagsFromString` after start leaves the heap as it is), so they
 * have to be on the command line.
 *
 * `--max-semi-space-size=2` (MiB): young-generation semi-spaces of 2 MiB,
 * where V8 picks 16 on a host with more than 2 GiB of memory. A body
 * streams through the gateway as 16–64 KiB socket buffers that die within a
 * chunk or two, and their memory is given back only when the young
 * generation is scavenged. At 16 MiB, 1 GiB through an S3 persist took ~47
 * scavenges, so ~20 MiB of dead socket buffers piled up between two of
 * them, pages the allocator gives back to the kernel and faults in again
 * (keeping them, below, cut the CPU as well). At 2 MiB the same transfer
 * takes ~140 cheap scavenges: at 1 GiB ~40 MiB less peak RSS per S3 or GCS
 * transfer, and about a fifth less gateway CPU on S3's (the README's
 * Benchmarks section has the figures and the commands). The cost: 1 KiB
 * persists at concurrency 16 keep about a tenth less of the direct write's
 * rate (0.17–0.21 of it against 0.21–0.23), as more of a busy request's
 * objects survive a scavenge and are promoted.
 * Weighed and left: 4 and 8 MiB kept most of the peak (174–209 MiB at
 * 1 GiB); 1 MiB measured no better than 2; glibc's MALLOC_TRIM_THRESHOLD_ /
 * MALLOC_MMAP_THRESHOLD_ (no pages handed back) cost +43 MiB of peak.
 *
 * `--no-concurrent-array-buffer-sweeping`: after each of those scavenges V8
 * frees the dead buffers' memory on its own worker threads by default. Per
 * thread (/proc/PID/task/TID/stat) the gateway's main thread spent the same
 * 3.4–3.7 s per GiB of an S3 persist in the bench's series as alone, while
 * V8's four workers went from ~0.2 to ~0.65 s each; freeing on the main
 * thread, right after the scavenge, cut the gateway's CPU per GiB from
 * 7.1 to 4.9 and 6.3 to 4.7 s in two alternating pairs, at the same peak
 * RSS (158 against 160–165 MiB at 1 GiB).
 * Weighed and left: `--single-threaded-gc` (every GC task on the main
 * thread) cut as much but raised the peak at 1 GiB by 15–25 MiB;
 * `--no-concurrent-marking` alone cut ~2 s too, with 14 MiB more peak;
 * `--no-parallel-scavenge` changed nothing measurable. This one is a V8
 * flag, not a Node option: a Node whose V8 drops it refuses to start with it
 * ("bad option"), and test/node-flags.test.ts fails first on that Node.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--no-concurrent-array-buffer-sweeping'];

/**
 * The environment the gateway starts with in the same places (`npm start`
 * sets it in the script, the Dockerfile with ENV, `blobgate serve` in its
 * child's environment); a value the caller's environment already has wins.
 * glibc reads it when the process starts, so it cannot be set from inside.
 *
 * `MALLOC_ARENA_MAX=1`: glibc's allocator keeps one heap (arena) for every
 * thread instead of up to eight per core. With the default, RSS crept up
 * from persist to persist (a 1 GiB S3 persist after 8 s idle started at
 * 102, 154–159 and 169–179 MiB in a row, peaks 157–187) while V8's heap
 * stayed at ~25 MiB after each mark-compact: memory glibc kept after the
 * frees, most likely spread over the arenas of the threads that allocate
 * (the main thread, V8's and libuv's; not traced inside glibc). With one
 * arena, S3 at 4 GiB (`scripts/bench/single.ts --size=4294967296 --runs=2
 * --idle=8`, two pairs alternating) peaked at 147–153 MiB against 160–175,
 * at 1 GiB 147–163 against 157–187, at the same CPU and time, and at
 * 154 MiB (4 GiB) inside the bench's S3 series (run H); 1 KiB persists at
 * concurrency 16 measured the same (204 / 221 against 223 / 208 req/s).
 * The README's Benchmarks section (round H) has the commands.
 * Weighed and left: MALLOC_ARENA_MAX=2 (no steady gain: 156–191 MiB at
 * 4 GiB), a fixed MALLOC_MMAP_THRESHOLD_ of 4 MiB (151–211 MiB at 1 GiB).
 */
export const GATEWAY_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };

/** `env` with GATEWAY_ENV's variables added where it has none of its own. */
export function gatewayEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...GATEWAY_ENV, ...env };
}
