import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { formatJson, formatReport, resultLabel } from './format.js';
import { SmokeSetupError, runSmokeInProcess } from './in-process.js';
import type { SmokeReport } from './run.js';

export interface SmokeCommandOptions {
  /** Store names (repeatable `--store`); default every configured store. */
  store?: string[];
  /** Every configured store (the default, spelled out). */
  all?: boolean;
  /** Print the report as JSON instead of the table. */
  json?: boolean;
  /** Fetch blobgate-signed URLs from this running gateway instead of an in-process one. */
  gateway?: string;
}

export interface SmokeIo {
  /** A terminal gets `--json` indented, a pipe one compact line (as every JSON the CLI prints: src/cli/output.ts printJson). */
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** A ready config (tests, scripts/smoke.ts); otherwise loadConfig(env, cwd). */
  config?: Config;
  fetch?: typeof fetch;
  /** Handle Ctrl-C (stop the checks, still clean up). The CLI and scripts/smoke.ts set it. */
  handleSigint?: boolean;
}

/**
 * `blobgate smoke [--store NAME|--all] [--json] [--gateway URL]`: the storage
 * smoke test over the configured stores, in this process. Prints the table
 * (or JSON) on stdout and returns the exit code: 0 every check passed (rows
 * "not enforced by this backend" included), 1 any check failed, 2 a usage or
 * configuration error (printed on stderr).
 */
export async function smokeCommand(opts: SmokeCommandOptions, io: SmokeIo = defaultIo()): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`error: invalid_request: ${message}\n`);
    return 2;
  };
  if (opts.all && opts.store && opts.store.length > 0) return usage('give --store NAME or --all, not both');
  let config: Config;
  try {
    config = io.config ?? loadConfig(io.env, io.cwd);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const progress = !opts.json && io.stderr.isTTY === true;
  // Ctrl-C stops the checks but not the cleanup; a second Ctrl-C exits at once.
  const interrupt = new AbortController();
  const onSigint = (): void => {
    io.stderr.write('smoke: interrupted, cleaning up (Ctrl-C again to quit now)\n');
    interrupt.abort();
    process.removeListener('SIGINT', onSigint);
  };
  if (io.handleSigint) process.on('SIGINT', onSigint);
  let report: SmokeReport;
  try {
    report = await runSmokeInProcess({
      config,
      ...(opts.store && opts.store.length > 0 ? { storeNames: opts.store } : {}),
      ...(opts.gateway !== undefined ? { gatewayUrl: opts.gateway } : {}),
      ...(io.fetch ? { fetch: io.fetch } : {}),
      signal: interrupt.signal,
      ...(progress ? { onRow: (store, row) => io.stderr.write(`  ${store}: ${row.check} ${resultLabel(row.ok)} (${row.ms} ms)\n`) } : {}),
    });
  } catch (err) {
    if (err instanceof SmokeSetupError) return usage(err.message);
    io.stderr.write(`error: internal: the smoke test could not run: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  io.stdout.write(`${opts.json ? formatJson(report, io.stdout.isTTY === true) : formatReport(report)}\n`);
  return report.failed > 0 || interrupt.signal.aborted ? 1 : 0;
}

/** Adds `smoke` to the blobgate CLI (src/cli/main.ts: `registerSmoke(program)`). */
export function registerSmoke(program: Command): void {
  program
    .command('smoke')
    .description(
      'check the configured stores end to end (write, parts, range, head, list, signed URL, tampered URL, cap, abort, delete); ' +
        'exit 1 on any failure. Runs in this process with the gateway configuration (BLOBGATE_CONFIG and BLOBGATE_* variables)',
    )
    .option('--store <name>', 'a store to check (repeatable; default: every configured store)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--all', 'check every configured store (the default)')
    .option('--json', 'print the report as JSON (indented on a terminal, one line when piped)')
    .option('--gateway <url>', "serve blobgate-signed URLs (local stores) from this running gateway (needs its signing secret) instead of an in-process one")
    .action(async (opts: SmokeCommandOptions) => {
      process.exitCode = await smokeCommand(opts);
    });
}

function defaultIo(): SmokeIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), handleSigint: true };
}
