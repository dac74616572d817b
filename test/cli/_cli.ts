import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { builtCli } from '../helpers/built-src.js';

/**
 * Drives the CLI as a subprocess, from any cwd: `node <build>/src/cli/main.js …`,
 * src/ compiled once per content (test/helpers/built-src.ts), as the package's
 * `bin` runs it. `cliTsxArgv` is `npm run cli`'s way, through tsx.
 */
export const root = fileURLToPath(new URL('../..', import.meta.url));
export const cliMain = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** tsx resolved here, so the CLI can run with a cwd outside the project. */
export const tsxImport = import.meta.resolve('tsx');
export const cliTsxArgv = ['--import', tsxImport, cliMain];
export const cliArgv = [builtCli];

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

const CLI_TIMEOUT_MS = 120_000;

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Wrap the command: e.g. `ulimit -f …` through bash. */
  shellPrefix?: string;
  /**
   * Kills a hung command (SIGKILL, code null). A guard, not a speed check: the
   * default leaves room for several commands started at once on a loaded
   * two-core machine (30 s did not), within tap's per-file timeout.
   */
  timeoutMs?: number;
}

/** A minimal environment: nothing of the caller's BLOBGATE_* leaks into a test. */
export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k]) env[k] = process.env[k]!;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const env = baseEnv(opts.env);
  const child = opts.shellPrefix
    ? spawn('bash', ['-c', `${opts.shellPrefix}; exec ${[process.execPath, ...cliArgv, ...args].map(shq).join(' ')}`], { cwd: opts.cwd ?? root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [...cliArgv, ...args], { cwd: opts.cwd ?? root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? CLI_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

/**
 * Runs the CLI under a pseudo-terminal with util-linux `script`, so stdout and
 * stderr are a TTY; `output` is everything the terminal received.
 */
export function runCliInPty(args: string[], opts: RunOptions & { columns?: number } = {}): Promise<{ code: number | null; output: string }> {
  const command = `stty cols ${opts.columns ?? 100} 2>/dev/null; exec ${[process.execPath, ...cliArgv, ...args].map(shq).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: opts.cwd ?? root, env: baseEnv({ ...opts.env, SHELL: '/bin/bash' }), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? CLI_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export function shq(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** No stack-trace frames in CLI output. */
export const STACK_FRAME = /\n\s+at .+\(|\n\s+at [^\s]+:\d+:\d+/;
