/**
 * What every scenario needs: the upstream, the stores, blobgate and the
 * peers, plus one verified blobgate persist (sha256 in the answer and of the
 * bytes read back from the store) and one verified peer run.
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { Gateway, PersistResult } from './gateway.js';
import type { PeerName, PeerRun, Peers } from './peers.js';
import type { StoreName, Stores } from './servers.js';
import { expectedSha256, type Upstream } from './upstream.js';
import { measured, procCpu, type ProcMemory, threadCpu } from './measure.js';

export interface Context {
  upstream: Upstream;
  stores: Stores;
  gateway: Gateway;
  peers: Peers;
  log(line: string): void;
  /** With --cpu-prof: where each timed transfer's profile of the servers' process goes (throughput.ts). */
  serversProfileDir?: string;
  /** Stops blobgate and starts a fresh process configured with `store` (beside local); `gateway` is replaced. */
  restartGateway(store: StoreName): Promise<void>;
}

export type ToolName = 'blobgate' | PeerName;

export interface Transfer {
  ok: boolean;
  seconds: number;
  peakRss?: number;
  /** RSS of the process just before the transfer (blobgate, sdk). */
  startRss?: number;
  /** CPU seconds spent during the timed part, by process (see cpuDuring). */
  cpu?: TransferCpu;
  error?: string;
}

/**
 * Where the CPU of one transfer went, in seconds: the tool (the gateway, the
 * SDK worker, or the CLI peer with its children), the test servers' process
 * (S3 proxy + fauxqs + GCS server, one Node thread) and this process (the
 * upstream serving the body, plus the harness). On two cores these compete,
 * so a tool that spends less CPU per byte leaves more to the servers.
 * `toolMain`: of `tool`, the main thread's (the JavaScript; the rest is V8's
 * GC and compiler threads and libuv's pool), for a tool with a pid of its
 * own (the gateway, the SDK worker).
 */
export interface TransferCpu {
  tool: number;
  toolMain?: number;
  servers: number;
  upstream: number;
}

/** Runs `fn` and measures the CPU each process spent meanwhile; `toolPid` undefined: the tool is a child this process reaps. */
async function cpuDuring<T>(ctx: Pick<Context, 'stores'>, toolPid: number | undefined, fn: () => Promise<T>): Promise<{ value: T; cpu?: TransferCpu }> {
  const snap = async (): Promise<{ tool: number; toolMain?: number; servers: number; self: number } | undefined> => {
    try {
      const [self, servers, tool] = await Promise.all([procCpu('self'), procCpu(ctx.stores.serversPid), toolPid === undefined ? undefined : threadCpu(toolPid)]);
      if (!tool) return { tool: self.children, servers: servers.own, self: self.own };
      return { tool: tool.main + tool.others, toolMain: tool.main, servers: servers.own, self: self.own };
    } catch {
      return undefined; // not Linux, or a process gone: the transfer is still measured, without CPU
    }
  };
  const before = await snap();
  const value = await fn();
  const after = await snap();
  if (!before || !after) return { value };
  const toolMain = after.toolMain !== undefined && before.toolMain !== undefined ? { toolMain: after.toolMain - before.toolMain } : {};
  return { value, cpu: { tool: after.tool - before.tool, ...toolMain, servers: after.servers - before.servers, upstream: after.self - before.self } };
}

let counter = 0;
/** A unique object name for one transfer. */
export const uniqueName = (prefix: string): string => `${prefix}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}.bin`;

/** Reads the stored bytes back through the store's own client and checks them against the upstream's sha256. */
async function verifyStored(ctx: Pick<Context, 'stores'>, store: StoreName, target: string, size: number): Promise<string | undefined> {
  try {
    const got = await ctx.stores.readBack(store, target);
    if (got.size !== size || got.sha256 !== expectedSha256(size)) return `read back ${got.size} bytes, sha256 ${got.sha256.slice(0, 12)}…: not the upstream's bytes`;
    return undefined;
  } catch (err) {
    return `read back failed: ${String((err as Error).message).slice(0, 300)}`;
  }
}

/** For a peer that writes bytes of its own (dd from /dev/zero): the file has the size asked for. */
async function verifySize(path: string, size: number): Promise<string | undefined> {
  const got = await stat(path).then((s) => s.size, (err: unknown) => err as Error);
  if (got instanceof Error) return `stat failed: ${got.message.slice(0, 300)}`;
  return got === size ? undefined : `wrote ${got} bytes, not ${size}`;
}

export function checkPersist(r: PersistResult, size: number): string | undefined {
  if (r.status !== 200 || !r.blobRef) return `status ${r.status}: ${r.error ?? ''}`;
  if (r.blobRef.size !== size) return `blob-ref.size ${r.blobRef.size} ≠ ${size}`;
  if (r.blobRef.sha256 !== expectedSha256(size)) return `blob-ref.sha256 ${r.blobRef.sha256.slice(0, 12)}… is not the upstream's`;
  return undefined;
}

/** One blobgate persist of `size` bytes into `store`, peak RSS reset before it; verified and deleted after (needs no peers: single.ts). */
export async function blobgateTransfer(ctx: Pick<Context, 'upstream' | 'stores' | 'gateway'>, store: StoreName, size: number, name: string, bracket: Bracket = NO_BRACKET): Promise<Transfer> {
  const { value: m, cpu } = await bracketed(bracket, () =>
    cpuDuring(ctx, ctx.gateway.pid, () => measured(ctx.gateway.pid, () => ctx.gateway.persist(store, ctx.upstream.bytesUrl(size, name), `t/${name.replace(/\.bin$/, '')}`, name))),
  );
  const r = m.value;
  let error = checkPersist(r, size);
  if (!error && r.blobRef) {
    const blobRef = r.blobRef;
    const where = await ctx.gateway.physical(store, blobRef).catch((err: unknown) => new Error(`cannot locate the stored object: ${String(err)}`));
    error = where instanceof Error ? where.message : await verifyStored(ctx, store, where, size);
  }
  if (r.uri) await ctx.gateway.remove(r.uri).catch(() => undefined);
  return { ok: error === undefined, seconds: m.seconds, ...mem(m.before, m.after), ...(cpu ? { cpu } : {}), ...(error ? { error } : {}) };
}

function mem(before?: ProcMemory, after?: ProcMemory): { peakRss?: number; startRss?: number } {
  return { ...(after ? { peakRss: after.hwm } : {}), ...(before ? { startRss: before.rss } : {}) };
}

/** One peer transfer; verified and deleted after. */
export async function peerTransfer(ctx: Context, peer: PeerName, store: StoreName, size: number, name: string, bracket: Bracket = NO_BRACKET): Promise<Transfer> {
  const { value: run, cpu } = await bracketed(bracket, () =>
    cpuDuring(ctx, peer === 'sdk' ? ctx.peers.sdk.pid : undefined, () => ctx.peers.run(peer, store, ctx.upstream.bytesUrl(size, name), name, size)),
  );
  let error = run.error;
  if (run.ok) error = run.sizeOnly ? await verifySize(run.target, size) : await verifyStored(ctx, store, run.target, size);
  await ctx.stores.remove(store, run.target).catch(() => undefined);
  return { ok: run.ok && error === undefined, seconds: run.seconds, ...(run.peakRss === undefined ? {} : { peakRss: run.peakRss }), ...(cpu ? { cpu } : {}), ...(error ? { error } : {}) };
}

/**
 * Runs `start` just before the timed part of a transfer and `stop` just
 * after it, before the read-back (e.g. a CPU profile of the servers).
 */
export interface Bracket {
  start(): Promise<void>;
  stop(): Promise<void>;
}

const NO_BRACKET: Bracket = { start: async () => undefined, stop: async () => undefined };

async function bracketed<T>(bracket: Bracket, fn: () => Promise<T>): Promise<T> {
  await bracket.start();
  try {
    return await fn();
  } finally {
    await bracket.stop();
  }
}

export function transfer(ctx: Context, tool: ToolName, store: StoreName, size: number, name: string, bracket: Bracket = NO_BRACKET): Promise<Transfer> {
  return tool === 'blobgate' ? blobgateTransfer(ctx, store, size, name, bracket) : peerTransfer(ctx, tool, store, size, name, bracket);
}

/** `sync`: writes back dirty pages between local transfers, so no run pays for the previous one's writeback. */
export function syncDisk(): Promise<void> {
  return new Promise((resolve) => {
    const c = spawn('sync', [], { stdio: 'ignore' });
    c.on('error', () => resolve());
    c.on('close', () => resolve());
  });
}
