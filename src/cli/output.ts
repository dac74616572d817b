/**
 * What the CLI prints: results on stdout, errors on stderr as one
 * `error: <code>: <message>` line (plus the details, when the API gave any),
 * never a stack trace for an API or connection failure.
 */

/** An error the CLI reports and exits 1 on. `code` is an API error code or a CLI one (`unreachable`, `io_error`, …). */
export class CliError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  readonly exitCode: number;

  constructor(code: string, message: string, details?: Record<string, unknown>, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.details = details;
    this.exitCode = exitCode;
  }
}

/** JSON on stdout: indented for a person at a terminal, one compact line when piped. */
export function printJson(value: unknown, stream: NodeJS.WriteStream = process.stdout): void {
  stream.write(`${stream.isTTY ? JSON.stringify(value, null, 2) : JSON.stringify(value)}\n`);
}

export function printLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Formats any failure as the one-line report; unexpected errors keep their message but still no stack. */
export function formatError(err: unknown): string {
  if (err instanceof CliError) {
    const details = err.details && Object.keys(err.details).length > 0 ? `\n  details: ${JSON.stringify(err.details)}` : '';
    return `error: ${err.code}: ${err.message}${details}`;
  }
  const e = err as NodeJS.ErrnoException | undefined;
  const code = typeof e?.code === 'string' ? e.code.toLowerCase() : 'internal';
  const message = e instanceof Error ? e.message : String(err);
  return `error: ${code}: ${message}`;
}

/** Reports the error on stderr and sets the exit code; BLOBGATE_DEBUG=1 adds the stack for bug reports. */
export function reportError(err: unknown): void {
  process.stderr.write(`${formatError(err)}\n`);
  if (process.env.BLOBGATE_DEBUG && err instanceof Error && !(err instanceof CliError) && err.stack) {
    process.stderr.write(`${err.stack}\n`);
  }
  process.exitCode = err instanceof CliError ? err.exitCode : 1;
}

/** Pads columns to a plain-text table (no colours, stable for grep/awk). */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
