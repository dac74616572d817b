import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { isLoopbackHost, type ListenAddress } from '../config/listen.js';
import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';
import { TokenAuth } from './auth.js';
import type { TransferGate } from './transfer-gate.js';
import type { CleanupCounts } from '../storage/janitor.js';
import type { BufferCounts } from '../storage/buffer-budget.js';
import type { TransferObserver } from '../step/transfer-observer.js';

/**
 * Prometheus metrics, on a registry of this app's own (several apps in one
 * process, as in tests, do not share counters). Served at /metrics.
 *
 * Names follow the Prometheus naming rules that `promtool check metrics`
 * applies (test/http/metrics-naming.test.ts runs it on a scrape): counters end
 * in `_total`, nothing else does, and a unit is spelled in the name
 * (`_bytes`, `_seconds`) before the `_total`.
 */
export class Metrics implements TransferObserver {
  readonly registry = new Registry();
  readonly transfers: Counter<'kind' | 'outcome' | 'tier' | 'store'>;
  readonly persistedBytes: Counter<'tier' | 'store'>;
  readonly transferSize: Histogram<'kind' | 'tier' | 'store'>;
  /** What blobgate_transfer_progress_bytes_total and blobgate_transfer_bytes report (see ProgressTally). */
  private readonly progress = new ProgressTally();
  readonly servedBytes: Counter<'store'>;
  readonly upstreamSeconds: Histogram<'status' | 'outcome'>;
  readonly storeSeconds: Histogram<'store' | 'outcome'>;
  readonly refusals: Counter<'reason'>;
  readonly signedUrls: Counter<'store'>;

  constructor(gate: TransferGate, cleanup?: CleanupSource) {
    collectDefaultMetrics({ register: this.registry, prefix: 'blobgate_' });
    // prom-client also exports each of these counts as a gauge named `…_total`, which Prometheus
    // reserves for counters; the same numbers stay in blobgate_nodejs_active_{handles,requests,resources}{type}.
    for (const name of ['handles', 'requests', 'resources']) this.registry.removeSingleMetric(`blobgate_nodejs_active_${name}_total`);
    const registers = [this.registry];
    this.transfers = new Counter({ name: 'blobgate_transfers_total', help: 'Transfers (HTTP steps, uploads) by outcome: ok or the error code.', labelNames: ['kind', 'outcome', 'tier', 'store'], registers });
    this.persistedBytes = new Counter({ name: 'blobgate_persisted_bytes_total', help: 'Bytes committed to stores.', labelNames: ['tier', 'store'], registers });
    this.transferSize = new Histogram({
      name: 'blobgate_transfer_size_bytes',
      help: 'Size of each committed transfer (a step\'s stored body, an uploaded file).',
      labelNames: ['kind', 'tier', 'store'],
      buckets: SIZE_BUCKETS,
      registers,
    });
    const progress = this.progress;
    new Counter({
      name: 'blobgate_transfer_progress_bytes_total',
      help: 'Bytes streamed into stores as they flow, committed or not (its rate is the write throughput, also while a transfer runs).',
      labelNames: ['kind', 'store'],
      registers,
      collect() {
        this.reset();
        for (const row of progress.rows()) this.inc(row.labels, row.total);
      },
    });
    new Gauge({ name: 'blobgate_transfer_bytes', help: 'Bytes moved so far by the transfers writing now.', labelNames: ['kind', 'store'], registers, collect() {
      this.reset();
      for (const row of progress.rows()) this.set(row.labels, row.live);
    } });
    this.servedBytes = new Counter({ name: 'blobgate_served_bytes_total', help: 'Bytes of stored objects sent to clients by content and signed reads.', labelNames: ['store'], registers });
    this.upstreamSeconds = new Histogram({
      name: 'blobgate_upstream_response_seconds',
      help: 'Time from sending an upstream request to its response headers; status is the upstream HTTP status ("" when none came), outcome ok, upstream_status or the error code.',
      labelNames: ['status', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.storeSeconds = new Histogram({
      name: 'blobgate_store_write_seconds',
      help: 'Time to stream a body into a store and commit it.',
      labelNames: ['store', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800],
      registers,
    });
    this.refusals = new Counter({ name: 'blobgate_refusals_total', help: 'Refusals by reason: cap (cap_exceeded, load_limit_exceeded), ssrf (destination_blocked), overload.', labelNames: ['reason'], registers });
    this.signedUrls = new Counter({ name: 'blobgate_signed_urls_total', help: 'Signed URLs minted.', labelNames: ['store'], registers });
    new Gauge({ name: 'blobgate_transfers_in_flight', help: 'Transfers running now.', registers, collect() {
      this.set(gate.active);
    } });
    new Gauge({ name: 'blobgate_transfer_queue_length', help: 'Transfers waiting for a slot.', registers, collect() {
      this.set(gate.queued);
    } });
    if (cleanup) cleanupMetrics(this.registry, cleanup);
    if (cleanup?.bufferCounts) bufferMetrics(this.registry, () => cleanup.bufferCounts?.());
  }

  /** The observer reports the upstream's status, or an error code when no response came. */
  upstreamStarted(): (outcome: string) => void {
    const end = this.upstreamSeconds.startTimer();
    return (outcome) => {
      const status = /^\d{3}$/.test(outcome) ? outcome : '';
      void end({ status, outcome: status === '' ? outcome : status.startsWith('2') ? 'ok' : 'upstream_status' });
    };
  }

  storeWriteStarted(store: string): (outcome: string) => void {
    const end = this.storeSeconds.startTimer({ store });
    return (outcome) => void end({ outcome });
  }

  /**
   * An observer for one transfer, which also counts its bytes while they
   * flow: blobgate_transfer_bytes holds what each store write moved so far
   * until it ends (committed or not), blobgate_transfer_progress_bytes_total
   * keeps counting. `onStore` learns each store a write goes to (the
   * request's facts).
   */
  transferObserver(kind: TransferKind, onStore?: (store: string) => void): TransferObserver {
    let current: { row: ProgressRow; moved: number } | undefined;
    return {
      upstreamStarted: () => this.upstreamStarted(),
      storeWriteStarted: (store) => {
        onStore?.(store);
        const write = { row: this.progress.row(kind, store), moved: 0 };
        current = write;
        const end = this.storeWriteStarted(store);
        return (outcome) => {
          end(outcome);
          if (current === write) current = undefined;
          write.row.live -= write.moved;
        };
      },
      bytesMoved: (n) => {
        if (!current) return;
        current.moved += n;
        current.row.live += n;
        current.row.total += n;
      },
    };
  }

  /**
   * An upload's progress: the request body's bytes as they arrive, from the
   * moment its first file is placed, counted against the store of the file
   * being written (a multipart body's framing included). `end` takes them off
   * blobgate_transfer_bytes. It only listens to a body something already
   * reads (the upload routes pipe it), so it never starts the flow itself.
   */
  uploadProgress(body: Readable): { placed(store: string): void; end(): void } {
    const moved = new Map<ProgressRow, number>();
    let row: ProgressRow | undefined;
    const onData = (chunk: Buffer): void => {
      if (row === undefined) return;
      moved.set(row, (moved.get(row) ?? 0) + chunk.length);
      row.live += chunk.length;
      row.total += chunk.length;
    };
    return {
      placed: (to) => {
        if (row === undefined) body.on('data', onData);
        row = this.progress.row('upload', to);
      },
      end: () => {
        body.off('data', onData);
        row = undefined;
        for (const [r, n] of moved) r.live -= n;
        moved.clear();
      },
    };
  }

  /** Counts one finished transfer and, by its error code, a refusal. */
  recordTransfer(kind: TransferKind, outcome: string, where: { tier?: string; store?: string; bytes?: number }): void {
    this.transfers.inc({ kind, outcome, tier: where.tier ?? '', store: where.store ?? '' });
    if (outcome === 'ok' && where.bytes !== undefined && where.store) {
      this.persistedBytes.inc({ tier: where.tier ?? '', store: where.store }, where.bytes);
      this.transferSize.observe({ kind, tier: where.tier ?? '', store: where.store }, where.bytes);
    }
    const reason = { cap_exceeded: 'cap', load_limit_exceeded: 'cap', destination_blocked: 'ssrf', overloaded: 'overload' }[outcome];
    if (reason) this.refusals.inc({ reason });
  }
}

export type TransferKind = 'step' | 'upload';

/** One (kind, store)'s transfer progress: `live` bytes of the writes running now, `total` bytes ever moved. */
interface ProgressRow {
  readonly labels: { kind: TransferKind; store: string };
  live: number;
  total: number;
}

/**
 * Transfer progress, added up in plain numbers as each chunk flows and
 * handed to prom-client only when /metrics is scraped: a prom-client inc
 * hashes its labels, and two per chunk were ~0.2 s of CPU per GiB moved
 * (the bench's profile, README "Benchmarks"). A row per (kind, store) seen:
 * kinds are fixed in code, stores by the config, so the rows are few.
 */
class ProgressTally {
  private readonly byKey = new Map<string, ProgressRow>();

  row(kind: TransferKind, store: string): ProgressRow {
    const key = `${kind}\0${store}`;
    let row = this.byKey.get(key);
    if (!row) {
      row = { labels: { kind, store }, live: 0, total: 0 };
      this.byKey.set(key, row);
    }
    return row;
  }

  rows(): IterableIterator<ProgressRow> {
    return this.byKey.values();
  }
}

/** Transfer sizes: 1 KiB to 4 GiB (the default ephemeral cap), a factor of 4 apart. */
const SIZE_BUCKETS = Array.from({ length: 12 }, (_, i) => 1024 * 4 ** i);

/** The stores' janitors as the store registry reports them (src/storage/registry.ts). */
export interface CleanupSource {
  cleanupCounts(): Array<{ store: string; counts: CleanupCounts }>;
  /** The shared transfer-buffer budget (src/storage/buffer-budget.ts), when there is one. */
  bufferCounts?(): BufferCounts | undefined;
}

/**
 * blobgate_buffer_bytes{state}: the transfer-buffer budget (limits.buffer-bytes)
 * — `in_use` by transfers, `idle` kept for reuse, `limit` the budget — and
 * blobgate_buffer_waiters, transfers waiting for a buffer (backpressure).
 */
function bufferMetrics(registry: Registry, read: () => BufferCounts | undefined): void {
  const registers = [registry];
  new Gauge({
    name: 'blobgate_buffer_bytes',
    help: 'Transfer buffers (S3 parts, GCS chunks and parts) by state: in_use by transfers, idle kept for reuse, limit the budget (limits.buffer-bytes).',
    labelNames: ['state'],
    registers,
    collect() {
      const c = read();
      if (!c) return;
      this.set({ state: 'in_use' }, c.inUse);
      this.set({ state: 'idle' }, c.idle);
      this.set({ state: 'limit' }, c.limit);
    },
  });
  new Gauge({
    name: 'blobgate_buffer_waiters',
    help: 'Transfers waiting for a transfer buffer (they stop reading their source meanwhile).',
    registers,
    collect() {
      this.set(read()?.waiting ?? 0);
    },
  });
}

/**
 * blobgate_cleanup_pending{store} and blobgate_cleanups_total{store, outcome}:
 * read from each store's janitor when scraped (the storage layer counts, this
 * layer only reports).
 */
function cleanupMetrics(registry: Registry, source: CleanupSource): void {
  const registers = [registry];
  new Gauge({
    name: 'blobgate_cleanup_pending',
    help: 'Cleanups (aborts, cancels, deletes of staging objects and files) not done yet; the store janitor retries them.',
    labelNames: ['store'],
    registers,
    collect() {
      this.reset();
      for (const { store, counts } of source.cleanupCounts()) this.set({ store }, counts.pending);
    },
  });
  new Counter({
    name: 'blobgate_cleanups_total',
    help: 'Cleanups by outcome: done, failed (an attempt; retried), dropped (queue full), swept (crash leftovers the sweep removed).',
    labelNames: ['store', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const { store, counts } of source.cleanupCounts()) {
        for (const outcome of ['done', 'failed', 'dropped', 'swept'] as const) this.inc({ store, outcome }, counts[outcome]);
      }
    },
  });
}

/**
 * Who may read GET /metrics on the main listener (README "Operating
 * blobgate"): metrics are deployment-wide (every tier, store and outcome), so
 * a token scoped to some workspaces does not open them.
 *
 * - `metrics.listen` set: /metrics lives on that listener only; here it is 404.
 * - `metrics.token` set: a bearer token is required — the metrics token or an
 *   API token granted every workspace (`["*"]`).
 * - otherwise the same token is required unless the main listener is
 *   loopback-only (the embedded default, where only this machine can connect).
 */
export function metricsAccess(config: Pick<Config, 'host' | 'tokens' | 'metrics'>): (request: FastifyRequest) => void {
  if (config.metrics.listen) {
    const where = `${config.metrics.listen.host}:${config.metrics.listen.port}`;
    return () => {
      throw new BlobgateError('not_found', `Metrics are served on the metrics listener (metrics.listen, ${where}), not on this port.`);
    };
  }
  const { tokenSha256 } = config.metrics;
  if (tokenSha256 === undefined && isLoopbackHost(config.host)) return () => undefined;
  const auth = new TokenAuth([...(tokenSha256 ? [{ sha256: tokenSha256, workspaces: ['*'] }] : []), ...config.tokens]);
  return (request) => {
    if (!auth.authenticate(request).all) {
      throw new BlobgateError('forbidden', 'GET /metrics needs the metrics token (metrics.token) or an API token granted every workspace ("*").');
    }
  };
}

/** GET /metrics on the main listener, behind metricsAccess. */
export function metricsHandler(metrics: Metrics, config: Pick<Config, 'host' | 'tokens' | 'metrics'>): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  const check = metricsAccess(config);
  return async (request, reply) => {
    check(request);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  };
}

export interface MetricsListener {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/**
 * The separate metrics listener (`metrics.listen`): GET /metrics only, for a
 * Prometheus scraper on an internal address. With `metrics.token` set the
 * scraper sends it as a bearer token; without, whoever reaches the address
 * reads the metrics (choose the address accordingly).
 */
export async function startMetricsListener(metrics: Metrics, listen: ListenAddress, tokenSha256?: string): Promise<MetricsListener> {
  const expected = tokenSha256 === undefined ? undefined : Buffer.from(tokenSha256, 'hex');
  const server = createServer((req, res) => {
    serveMetrics(metrics, expected, req, res).catch(() => {
      if (!res.headersSent) sendError(res, new BlobgateError('internal', 'Collecting the metrics failed; the log has the detail.'));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serveMetrics(metrics: Metrics, expected: Buffer | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '').split('?')[0];
  if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return sendError(res, new BlobgateError('not_found', 'This listener serves GET /metrics only.'));
  if (expected !== undefined && !bearerMatches(req.headers.authorization, expected)) {
    return sendError(res, new BlobgateError('unauthorized', 'Send the metrics token (metrics.token) as "Authorization: Bearer <token>".'));
  }
  const body = await metrics.registry.metrics();
  res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) return false;
  return timingSafeEqual(createHash('sha256').update(match[1]!, 'utf8').digest(), expected);
}

function sendError(res: ServerResponse, err: BlobgateError): void {
  res.writeHead(err.status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(err.toJSON()));
}
