import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GATEWAY_NODE_FLAGS, gatewayEnv } from '../../src/node-flags.js';
import { builtGateway } from '../helpers/built-src.js';

/**
 * blobgate as a child process (src/main.ts with the node flags `npm start`
 * gives it, configured by a BLOBGATE_CONFIG file), so a crash is seen as
 * the child exiting and its descriptors and memory are its own
 * (/proc/<pid>). It runs src/ compiled once per content
 * (test/helpers/built-src.ts), never a dist/ that may be older than the
 * source under test.
 */
export interface ChildGateway {
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  /** Exit code or signal once the child has exited; undefined while it runs. */
  exited(): string | undefined;
  /** Everything it wrote to stderr (a crash's stack is there). */
  stderr(): string;
  stop(): Promise<string>;
}

const root = new URL('../..', import.meta.url).pathname;

export async function startChildGateway(config: Record<string, unknown>): Promise<ChildGateway> {
  const dataDir = await mkdtemp(join(tmpdir(), 'bg-hostile-'));
  const configFile = join(dataDir, 'config.json');
  await writeFile(configFile, JSON.stringify({ ...config, host: '127.0.0.1', port: 0, 'data-dir': join(dataDir, 'data'), 'log-level': 'info' }));
  const child: ChildProcess = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, builtGateway], {
    cwd: root,
    env: gatewayEnv({ PATH: process.env.PATH, BLOBGATE_CONFIG: configFile }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let exit: string | undefined;
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = signal ?? String(code);
      resolve(exit);
    }),
  );
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out = (out + d.toString()).slice(-64 * 1024);
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`the gateway exited (${code}) before listening:\n${err}`)));
    setTimeout(() => reject(new Error(`the gateway did not listen within 30 s:\n${err}`)), 30_000).unref();
  });
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-64 * 1024)));
  const url = await listening;
  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid!,
    dataDir: join(dataDir, 'data'),
    exited: () => exit,
    stderr: () => err,
    stop: async () => {
      if (exit === undefined) child.kill('SIGTERM');
      const code = await exited;
      await rm(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Open descriptors of a process, with what each points at (to name a leak). */
export async function openFds(pid: number): Promise<string[]> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
  return Promise.all(fds.map(async (fd) => `${fd} -> ${await readlink(`/proc/${pid}/fd/${fd}`).catch(() => 'gone')}`));
}

/** Resident and peak resident memory of a process, in MiB. */
export async function memory(pid: number): Promise<{ rssMiB: number; peakMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request on its own connection (no keep-alive, so no socket outlives it). */
export function call(port: number, method: string, path: string, opts: { token?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { connection: 'close', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.headers ?? {}) };
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** JSON body of an answer (undefined when it is not JSON). */
export function json(a: Answer): any {
  try {
    return JSON.parse(a.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A raw connection for requests that leave at a chosen moment. */
export interface RawConnection {
  socket: Socket;
  /** Bytes of the answer received so far. */
  received(): number;
  /** The start of the answer (status line and headers). */
  head(): string;
  /** Resolves once `n` answer bytes arrived (or the connection closed). */
  receivedAtLeast(n: number): Promise<void>;
  closed: Promise<void>;
  leave(): void;
}

export function raw(port: number, data?: string | Buffer): RawConnection {
  const socket = connect(port, '127.0.0.1');
  let count = 0;
  let head = '';
  const waiting: Array<{ n: number; resolve: () => void }> = [];
  const closed = new Promise<void>((resolve) => {
    socket.on('error', () => undefined);
    socket.on('close', () => {
      for (const w of waiting.splice(0)) w.resolve();
      resolve();
    });
  });
  socket.on('data', (c: Buffer) => {
    count += c.length;
    if (head.length < 4096) head += c.subarray(0, 4096 - head.length).toString('latin1');
    for (const w of waiting.filter((x) => count >= x.n)) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  });
  if (data !== undefined) socket.write(data);
  return {
    socket,
    received: () => count,
    head: () => head,
    receivedAtLeast: (n) => (count >= n || socket.destroyed ? Promise.resolve() : new Promise((resolve) => waiting.push({ n, resolve }))),
    closed,
    leave: () => socket.destroy(),
  };
}

/** A request head for `raw` (HTTP/1.1, closes after the answer). */
export function requestHead(method: string, path: string, headers: Record<string, string | number>): string {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** A multipart/form-data body: fields, then files. */
export function formBody(boundary: string, parts: Array<{ name: string; value?: string; filename?: string; bytes?: Buffer }>): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.filename ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`));
    chunks.push(p.bytes ?? Buffer.from(p.value ?? ''));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** Polls `cond` every 25 ms for up to `ms`; returns whether it came true (a throw counts as not yet). */
export async function eventually(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await Promise.resolve().then(cond).catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}
