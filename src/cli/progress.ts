import { Transform } from 'node:stream';

/**
 * A progress bar on stderr for `get` and `put`: bytes done/total, rate and
 * ETA, redrawn at most every 100 ms, ending with one final line. Shown only
 * when stderr is a terminal; piped, the CLI prints nothing extra.
 */

export interface ProgressStats {
  done: number;
  total: number | undefined;
  /** Fraction 0..1 when the total is known. */
  ratio: number | undefined;
  /** Average bytes per second since the start. */
  rate: number;
  /** Seconds left at the average rate; undefined without a total or before any byte. */
  etaSeconds: number | undefined;
}

/** The pure maths: average rate since start and the time left at that rate. */
export function progressStats(done: number, total: number | undefined, elapsedMs: number): ProgressStats {
  const seconds = Math.max(elapsedMs, 1) / 1000;
  const rate = done / seconds;
  const known = total !== undefined && total >= 0;
  const ratio = known ? (total === 0 ? 1 : Math.min(1, done / total)) : undefined;
  const etaSeconds = known && rate > 0 ? Math.max(0, (total - done) / rate) : undefined;
  return { done, total: known ? total : undefined, ratio, rate, etaSeconds };
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One line: `label [#####-----]  42%  1.2 MiB / 2.9 MiB  8.0 MiB/s  ETA 1s` (final: `… in 0.4s`). */
export function renderLine(label: string, st: ProgressStats, opts: { columns: number; final?: boolean; elapsedMs?: number }): string {
  const amount = st.total !== undefined ? `${formatBytes(st.done)} / ${formatBytes(st.total)}` : formatBytes(st.done);
  const pct = st.ratio !== undefined ? `${String(Math.floor(st.ratio * 100)).padStart(3)}%` : '';
  const tail = opts.final
    ? `in ${((opts.elapsedMs ?? 0) / 1000).toFixed(1)}s`
    : st.etaSeconds !== undefined ? `ETA ${formatDuration(st.etaSeconds)}` : '';
  const text = [pct, amount, `${formatBytes(st.rate)}/s`, tail].filter(Boolean).join('  ');
  const name = label.length > 24 ? `…${label.slice(-23)}` : label;
  const room = opts.columns - name.length - text.length - 6;
  if (st.ratio === undefined || room < 10) return `${name}  ${text}`;
  const width = Math.min(30, room);
  const filled = Math.round(st.ratio * width);
  return `${name} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`;
}

export class Progress {
  private done = 0;
  private lastDraw = 0;
  private drawn = false;
  private readonly start: number;

  private constructor(
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly out: NodeJS.WriteStream,
    private readonly now: () => number,
  ) {
    this.start = now();
  }

  /** A bar when `out` is a terminal, else undefined (callers skip the meter). */
  static create(label: string, total: number | undefined, out: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): Progress | undefined {
    return out.isTTY ? new Progress(label, total, out, now) : undefined;
  }

  /** A pass-through stream that counts bytes and redraws the bar at most every 100 ms. */
  meter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.add(chunk.length);
        cb(null, chunk);
      },
    });
  }

  add(n: number): void {
    this.done += n;
    const t = this.now();
    if (!this.drawn || t - this.lastDraw >= 100) this.draw(false);
  }

  /** The final line (100 %, average rate, time taken), ending with a newline. */
  finish(): void {
    this.draw(true);
    this.out.write('\n');
  }

  /** After a failure: end the bar's line so the error starts on its own line. */
  abort(): void {
    if (this.drawn) this.out.write('\n');
  }

  private draw(final: boolean): void {
    const t = this.now();
    this.lastDraw = t;
    this.drawn = true;
    const elapsedMs = t - this.start;
    const line = renderLine(this.label, progressStats(this.done, this.total, elapsedMs), { columns: this.out.columns || 80, final, elapsedMs });
    this.out.write(`\r${line}\x1b[K`);
  }
}
