/**
 * Measurement helpers: peak RSS from /proc (Linux), timing, and the
 * statistics the report uses (median, spread, least-squares slope,
 * percentiles).
 */
import { readFile, writeFile } from 'node:fs/promises';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export interface ProcMemory {
  /** Current resident set size, bytes. */
  rss: number;
  /** Peak resident set size since start or the last reset (VmHWM), bytes. */
  hwm: number;
}

export async function procMemory(pid: number): Promise<ProcMemory> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/** CPU seconds a process has used (utime + stime) and its reaped children have (cutime + cstime), from /proc/PID/stat. */
export interface ProcCpu {
  own: number;
  children: number;
}

/** Linux reports /proc times in clock ticks, USER_HZ, which is 100 on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

export async function procCpu(pid: number | 'self' | `${number}/task/${number}`): Promise<ProcCpu> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces and parentheses): state is field 3, utime 14 … cstime 17.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const tick = (i: number): number => Number(f[i - 3]) / TICKS_PER_SECOND;
  return { own: tick(14) + tick(15), children: tick(16) + tick(17) };
}

/**
 * The CPU seconds of a process's main thread (the thread whose id is the
 * pid: for Node, the JavaScript thread) and of all its other threads (V8's
 * GC and compiler workers, libuv's pool), exited ones included: the process's
 * own time from /proc/PID/stat less the main thread's from
 * /proc/PID/task/PID/stat.
 */
export interface ThreadCpu {
  main: number;
  others: number;
}

export async function threadCpu(pid: number): Promise<ThreadCpu> {
  const [all, main] = await Promise.all([procCpu(pid), procCpu(`${pid}/task/${pid}`)]);
  // The two reads are not one snapshot: a tick's skew must not make the others' time negative.
  return { main: main.own, others: Math.max(0, all.own - main.own) };
}

/** Resets the peak (VmHWM) to the current RSS: writing "5" to clear_refs (Linux ≥ 4.0). */
export async function resetPeak(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

/** Runs `fn` with the peak RSS of `pid` reset before it; returns its result, the elapsed seconds and the process's memory. */
export async function measured<T>(pid: number | undefined, fn: () => Promise<T>): Promise<{ value: T; seconds: number; before?: ProcMemory; after?: ProcMemory }> {
  let before: ProcMemory | undefined;
  if (pid !== undefined) {
    await resetPeak(pid);
    before = await procMemory(pid);
  }
  const started = process.hrtime.bigint();
  const value = await fn();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const after = pid !== undefined ? await procMemory(pid) : undefined;
  return { value, seconds, ...(before ? { before } : {}), ...(after ? { after } : {}) };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(xs: number[]): Summary {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1]!;
}

/** Least-squares fit y = intercept + slope·x. */
export function linearFit(points: Array<{ x: number; y: number }>): { slope: number; intercept: number } {
  const n = points.length;
  if (n < 2) return { slope: NaN, intercept: NaN };
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  const slope = sxx === 0 ? NaN : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

export const mib = (bytes: number): number => bytes / MiB;
export const mibPerS = (bytes: number, seconds: number): number => bytes / MiB / seconds;

export function sizeLabel(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
