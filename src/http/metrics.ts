import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TransferGate } from './transfer-gate.js';

/**
 * Prometheus metrics, on a registry of this app's own (several apps in one
 * process, as in tests, do not share counters). Served at /metrics.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly transfers: Counter<'kind' | 'outcome' | 'tier' | 'store'>;
  readonly bytesPersisted: Counter<'tier' | 'store'>;
  readonly upstreamSeconds: Histogram<'outcome'>;
  readonly storeSeconds: Histogram<'store' | 'outcome'>;
  readonly refusals: Counter<'reason'>;
  readonly signedUrls: Counter<'store'>;

  constructor(gate: TransferGate) {
    collectDefaultMetrics({ register: this.registry, prefix: 'blobgate_' });
    const registers = [this.registry];
    this.transfers = new Counter({ name: 'blobgate_transfers_total', help: 'Transfers (HTTP steps, uploads) by outcome: ok or the error code.', labelNames: ['kind', 'outcome', 'tier', 'store'], registers });
    this.bytesPersisted = new Counter({ name: 'blobgate_bytes_persisted_total', help: 'Bytes committed to stores.', labelNames: ['tier', 'store'], registers });
    this.upstreamSeconds = new Histogram({
      name: 'blobgate_upstream_response_seconds',
      help: 'Time from sending an upstream request to its response headers.',
      labelNames: ['outcome'],
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
  }

  /** Counts one finished transfer and, by its error code, a refusal. */
  recordTransfer(kind: 'step' | 'upload', outcome: string, where: { tier?: string; store?: string; bytes?: number }): void {
    this.transfers.inc({ kind, outcome, tier: where.tier ?? '', store: where.store ?? '' });
    if (outcome === 'ok' && where.bytes !== undefined && where.store) this.bytesPersisted.inc({ tier: where.tier ?? '', store: where.store }, where.bytes);
    const reason = { cap_exceeded: 'cap', load_limit_exceeded: 'cap', destination_blocked: 'ssrf', overloaded: 'overload' }[outcome];
    if (reason) this.refusals.inc({ reason });
  }
}
