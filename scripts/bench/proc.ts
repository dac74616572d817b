/**
 * Child processes of the benchmark: TypeScript children with an IPC channel
 * (servers, SDK worker), CLI peers with a timeout and their peak RSS, and a
 * clean environment for everything that talks to 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The environment without proxies, AWS_CA_BUNDLE (it breaks rclone's S3 backend) or RCLONE_* settings. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'AWS_CA_BUNDLE' || k.startsWith('RCLONE_') || k.startsWith('BLOBGATE_') || /^(https?|all|no)_proxy$/i.test(k)) continue;
    if (k === 'STORAGE_EMULATOR_HOST' || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  return { ...env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost', ...extra };
}

const children = new Set<ChildProcess>();

/** Kills every child this module started that is still running (by pid). */
export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

export interface TsChild {
  child: ChildProcess;
  pid: number;
  /** Sends a message and resolves with the next message whose `id` matches. */
  call<T>(message: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

/** Starts `node --import tsx <file> …args` with an IPC channel; resolves on its first `{ready: true}` message. */
export async function startTsChild(file: string, args: string[] = [], env: NodeJS.ProcessEnv = cleanEnv()): Promise<TsChild & { ready: Record<string, unknown> }> {
  const path = fileURLToPath(new URL(file, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', path, ...args], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before it was ready`)));
    const onMessage = (m: unknown): void => {
      const msg = m as Record<string, unknown>;
      if (msg.ready) {
        child.off('message', onMessage);
        resolve(msg);
      }
    };
    child.on('message', onMessage);
  });
  child.on('message', (m: unknown) => {
    const msg = m as { id?: number; error?: string };
    const p = msg.id === undefined ? undefined : pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id!);
    if (msg.error) p.reject(new Error(msg.error));
    else p.resolve(msg);
  });
  child.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`${file} exited (${code})`));
    pending.clear();
  });
  return {
    child,
    pid: child.pid!,
    ready,
    call: <T>(message: Record<string, unknown>) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ ...message, id });
      }),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      if (child.connected) child.send({ stop: true });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface CliResult {
  code: number | null;
  seconds: number;
  /** Peak RSS of the command (GNU time %M), bytes; undefined when unavailable. */
  peakRss?: number;
  stderr: string;
}

let timeAvailable: boolean | undefined;
async function gnuTime(): Promise<boolean> {
  if (timeAvailable === undefined) {
    timeAvailable = await new Promise<boolean>((resolve) => {
      const c = spawn('/usr/bin/time', ['-f', '%M', 'true'], { stdio: 'ignore' });
      c.on('error', () => resolve(false));
      c.on('exit', (code) => resolve(code === 0));
    });
  }
  return timeAvailable;
}

/**
 * Runs a CLI peer to completion and times it from spawn to exit (process
 * start included: that is what using the tool costs). Its peak RSS comes from
 * GNU time (`/usr/bin/time -f %M`) when installed.
 */
export async function runCli(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 20 * 60_000): Promise<CliResult> {
  const useTime = await gnuTime();
  const rssFile = join(tmpdir(), `bg-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const [bin, argv] = useTime ? ['/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args];
  const started = process.hrtime.bigint();
  const child = spawn(bin as string, argv as string[], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    if (stderr.length < 20_000) stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  clearTimeout(timer);
  children.delete(child);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  let peakRss: number | undefined;
  if (useTime) {
    const kb = Number((await readFile(rssFile, 'utf8').catch(() => '')).trim().split('\n').at(-1));
    if (Number.isFinite(kb) && kb > 0) peakRss = kb * 1024;
    await rm(rssFile, { force: true });
  }
  return { code, seconds, ...(peakRss === undefined ? {} : { peakRss }), stderr };
}
