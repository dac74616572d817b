/**
 * From raw samples to what the report states: per (store, size, tool)
 * medians and spreads, blobgate ÷ peer ratios, the peak-RSS slope against
 * size, and the issue's targets, each marked met / missed / not measured.
 */
import type { ConcurrencyResult } from './concurrency.js';
import type { ToolName } from './context.js';
import type { StoreName } from './servers.js';
import type { SmallResult } from './small.js';
import type { TransferSample } from './throughput.js';
import { GiB, MiB, linearFit, sizeLabel, summarize, type Summary } from './measure.js';

export interface Cell {
  store: StoreName;
  size: number;
  tool: ToolName;
  ok: number;
  failed: number;
  mibPerS: Summary;
  seconds: Summary;
  peakRssMiB?: Summary;
  /** Median CPU seconds per GiB moved, by process (context.ts TransferCpu); absent when not measured. */
  /** toolMain: the tool's main thread, when every run measured it (the gateway, the SDK worker). */
  cpuPerGiB?: { tool: number; toolMain?: number; servers: number; upstream: number };
  /** blobgate's median throughput ÷ this tool's (undefined for blobgate itself). */
  ratio?: number;
}

export interface MemoryLine {
  store: StoreName;
  /** Median blobgate peak RSS per size, MiB. */
  peakBySize: Array<{ size: number; peakMiB: number; startMiB: number }>;
  /** Least squares of peak RSS (MiB) against size (GiB). */
  slopeMiBPerGiB: number;
  interceptMiB: number;
  points: number;
  /** The same fit over sizes ≥ 64 MiB only (past the fixed cost of filling the pipeline's buffers). */
  steadySlopeMiBPerGiB: number;
}

export interface Target {
  target: string;
  measured: string;
  status: 'met' | 'missed' | 'not measured';
}

export interface Analysis {
  cells: Cell[];
  memory: MemoryLine[];
  targets: Target[];
}

export function analyse(samples: TransferSample[], concurrency: ConcurrencyResult[], small: SmallResult[]): Analysis {
  const keys = new Map<string, TransferSample[]>();
  for (const s of samples) {
    const k = `${s.store}|${s.size}|${s.tool}`;
    keys.set(k, [...(keys.get(k) ?? []), s]);
  }
  const cells: Cell[] = [];
  for (const group of keys.values()) {
    const ok = group.filter((s) => s.ok);
    const first = group[0]!;
    const rss = ok.map((s) => s.peakRss).filter((v): v is number => v !== undefined);
    const cpu = ok.filter((s) => s.cpu !== undefined);
    const perGiB = (pick: (c: NonNullable<TransferSample['cpu']>) => number): number => summarize(cpu.map((s) => pick(s.cpu!) / (s.size / GiB))).median;
    cells.push({
      store: first.store,
      size: first.size,
      tool: first.tool,
      ok: ok.length,
      failed: group.length - ok.length,
      mibPerS: summarize(ok.map((s) => s.mibPerS)),
      seconds: summarize(ok.map((s) => s.seconds)),
      ...(rss.length ? { peakRssMiB: summarize(rss.map((v) => v / MiB)) } : {}),
      ...(cpu.length
        ? {
            cpuPerGiB: {
              tool: perGiB((c) => c.tool),
              ...(cpu.every((s) => s.cpu!.toolMain !== undefined) ? { toolMain: perGiB((c) => c.toolMain!) } : {}),
              servers: perGiB((c) => c.servers),
              upstream: perGiB((c) => c.upstream),
            },
          }
        : {}),
    });
  }
  for (const c of cells) {
    if (c.tool === 'blobgate') continue;
    const bg = cells.find((b) => b.tool === 'blobgate' && b.store === c.store && b.size === c.size);
    if (bg && bg.ok > 0 && c.ok > 0) c.ratio = bg.mibPerS.median / c.mibPerS.median;
  }

  const memory: MemoryLine[] = [];
  for (const store of [...new Set(samples.map((s) => s.store))]) {
    const bg = samples.filter((s) => s.store === store && s.tool === 'blobgate' && s.ok && s.peakRss !== undefined);
    const sizes = [...new Set(bg.map((s) => s.size))].sort((a, b) => a - b);
    const fit = linearFit(bg.map((s) => ({ x: s.size / GiB, y: s.peakRss! / MiB })));
    const steady = bg.filter((s) => s.size >= 64 * MiB);
    const steadyFit = new Set(steady.map((s) => s.size)).size >= 2 ? linearFit(steady.map((s) => ({ x: s.size / GiB, y: s.peakRss! / MiB }))) : { slope: NaN };
    memory.push({
      store,
      peakBySize: sizes.map((size) => {
        const at = bg.filter((s) => s.size === size);
        return { size, peakMiB: summarize(at.map((s) => s.peakRss! / MiB)).median, startMiB: summarize(at.map((s) => (s.startRss ?? 0) / MiB)).median };
      }),
      slopeMiBPerGiB: fit.slope,
      interceptMiB: fit.intercept,
      points: bg.length,
      steadySlopeMiBPerGiB: steadyFit.slope,
    });
  }
  return { cells, memory, targets: targets(cells, memory, concurrency, small) };
}

const fmt = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

function ratioTargets(cells: Cell[], store: StoreName, peer: ToolName, min: number, label: string): Target[] {
  const out: Target[] = [];
  for (const c of cells.filter((c) => c.store === store && c.tool === peer).sort((a, b) => a.size - b.size)) {
    out.push({
      target: `${label} (${sizeLabel(c.size)})`,
      measured: c.ratio === undefined ? 'no successful runs' : `${fmt(c.ratio)}×`,
      status: c.ratio === undefined ? 'not measured' : c.ratio >= min ? 'met' : 'missed',
    });
  }
  return out;
}

function targets(cells: Cell[], memory: MemoryLine[], concurrency: ConcurrencyResult[], small: SmallResult[]): Target[] {
  const out: Target[] = [
    // curl -o neither hashes nor fsyncs: the yardsticks are the same work and the disk's limit (issue 18).
    ...ratioTargets(cells.filter((c) => c.size >= GiB), 'local', 'tee-sync', 1.0, 'local ≥ 1.0× same work (curl | tee | sha256sum; sync)'),
    ...ratioTargets(cells.filter((c) => c.size >= GiB), 'local', 'dd-fsync', 0.85, 'local ≥ 0.85× the disk (dd conv=fsync)'),
    // Issue 18: ≥ 1.1× rclone copyurl at 64 MiB, 1 GiB and 4 GiB (at 1 MiB the ratio mostly measures rclone's process start).
    ...ratioTargets(cells.filter((c) => c.size >= 64 * MiB), 's3', 'rclone', 1.1, 'S3 ≥ 1.1× rclone'),
    ...ratioTargets(cells.filter((c) => c.size >= 64 * MiB), 'gcs', 'rclone', 1.1, 'GCS ≥ 1.1× rclone'),
  ];
  const s3At4 = memory.find((m) => m.store === 's3')?.peakBySize.find((p) => p.size === 4 * GiB);
  if (memory.some((m) => m.store === 's3')) {
    out.push({
      target: 'S3: 4 GiB persist under 160 MiB peak RSS',
      measured: s3At4 ? `${fmt(s3At4.peakMiB, 0)} MiB` : 'not run (needs --full)',
      status: s3At4 ? (s3At4.peakMiB < 160 ? 'met' : 'missed') : 'not measured',
    });
  }
  for (const c of concurrency.filter((c) => c.store === 's3' && c.transfers === 32 && c.size === 64 * MiB)) {
    out.push({
      target: 'S3: 32 concurrent 64 MiB persists under 400 MiB peak RSS',
      measured: `${fmt(c.peakRss / MiB, 0)} MiB, ${c.succeeded}/${c.transfers} succeeded, ${fmt(c.aggregateMiBPerS, 1)} MiB/s aggregate`,
      status: c.peakRss / MiB < 400 && c.succeeded === c.transfers ? 'met' : 'missed',
    });
  }
  for (const s of small.filter((s) => s.store === 'local' && s.tool === 'blobgate' && s.size === 1024 && s.concurrency === 16)) {
    out.push({
      target: 'local: 1 KiB persists at concurrency 16 ≥ 2,000 req/s, p99 < 20 ms',
      measured: `${fmt(s.perSecond, 0)} req/s, p99 ${fmt(s.p99Ms, 1)} ms`,
      status: s.perSecond >= 2000 && s.p99Ms < 20 ? 'met' : 'missed',
    });
  }
  for (const m of memory) {
    // Between the two largest sizes: past the fixed step of filling the pipeline's buffers and the GC's slack.
    const [a, b] = m.peakBySize.slice(-2);
    const tail = a && b && a.size >= GiB ? `; ${fmt((b.peakMiB - a.peakMiB) / ((b.size - a.size) / GiB))} MiB/GiB from ${sizeLabel(a.size)} to ${sizeLabel(b.size)}` : '';
    out.push({
      target: `${m.store}: peak RSS slope ≤ 1 MiB per GiB`,
      measured:
        `${fmt(m.slopeMiBPerGiB)} MiB/GiB over all ${m.points} runs; ${fmt(m.steadySlopeMiBPerGiB)} MiB/GiB over sizes ≥ 64 MiB${tail} ` +
        `(median peaks ${m.peakBySize.map((p) => `${sizeLabel(p.size)}: ${fmt(p.peakMiB, 0)} MiB`).join(', ')})`,
      status: !Number.isFinite(m.slopeMiBPerGiB) ? 'not measured' : m.slopeMiBPerGiB <= 1 ? 'met' : 'missed',
    });
  }
  for (const m of memory) {
    const at4 = m.peakBySize.find((p) => p.size === 4 * GiB);
    out.push({
      target: `${m.store}: 4 GiB ephemeral transfer under 200 MiB peak RSS`,
      measured: at4 ? `${fmt(at4.peakMiB, 0)} MiB` : `not run (needs --full); largest measured: ${fmt(m.peakBySize.at(-1)?.peakMiB ?? NaN, 0)} MiB at ${sizeLabel(m.peakBySize.at(-1)?.size ?? 0)}`,
      status: at4 ? (at4.peakMiB < 200 ? 'met' : 'missed') : 'not measured',
    });
  }
  for (const c of concurrency) {
    out.push({
      target: `${c.store}: ${c.transfers} concurrent ${sizeLabel(c.size)} persists, no failures`,
      measured: `${c.succeeded}/${c.transfers} succeeded`,
      status: c.succeeded === c.transfers ? 'met' : 'missed',
    });
  }
  for (const s of small.filter((s) => s.tool === 'blobgate')) {
    if (s.errors > 0) out.push({ target: `${s.store}: small objects without errors`, measured: `${s.errors} errors (${s.firstError ?? ''})`, status: 'missed' });
  }
  return out;
}
