// Store-side fault injection shared by the project's S3 and GCS test servers:
// one-shot (or n-shot) failures per operation kind, and an outage that stops
// listening while the server's state is kept.
import type { Server } from 'node:http';

/** What an armed fault does to one request: answer with that status, or drop the connection unanswered. */
export type StoreFault = 500 | 503 | 'drop';

export interface FaultOptions {
  /** How many matching requests fail (default 1). */
  times?: number;
  /** How many matching requests pass first (default 0): e.g. the third chunk of an upload. */
  skip?: number;
}

/** A view of one armed fault: how many requests it failed so far. */
export interface FaultHandle {
  readonly hits: number;
}

interface Armed {
  fault: StoreFault;
  skip: number;
  times: number;
  hits: number;
}

/**
 * Faults armed per operation kind. The server asks `take(op)` for every
 * request it classified; a fault that fires means the request is NOT carried
 * out (no state changes), as when a front end fails it or the connection
 * breaks before the backend saw it.
 */
export class FaultPlan<Op extends string> {
  private readonly armed = new Map<Op, Armed[]>();

  inject(op: Op, fault: StoreFault, opts: FaultOptions = {}): FaultHandle {
    const a: Armed = { fault, skip: opts.skip ?? 0, times: opts.times ?? 1, hits: 0 };
    this.armed.set(op, [...(this.armed.get(op) ?? []), a]);
    return {
      get hits() {
        return a.hits;
      },
    };
  }

  /** The fault for this request, if one is armed for its operation. */
  take(op: Op): StoreFault | undefined {
    const list = this.armed.get(op);
    const a = list?.find((x) => x.times > 0);
    if (!a) return undefined;
    if (a.skip > 0) {
      a.skip--;
      return undefined;
    }
    a.times--;
    a.hits++;
    return a.fault;
  }

  /** Disarms what is left of the faults of one operation, or of all. */
  clear(op?: Op): void {
    if (op === undefined) this.armed.clear();
    else this.armed.delete(op);
  }
}

/**
 * An outage of a listening server: `down()` stops accepting and cuts every
 * open connection (clients see refused connections, as when a store's
 * endpoint goes away); `up()` listens again on the same port. The server
 * object, and so every bucket, object and upload, is kept.
 */
export class Outage {
  private isDown = false;

  constructor(
    private readonly server: Server,
    private readonly port: number,
    private readonly host: string,
  ) {}

  get down(): boolean {
    return this.isDown;
  }

  async start(): Promise<void> {
    if (this.isDown) return;
    this.isDown = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  async end(): Promise<void> {
    if (!this.isDown) return;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.isDown = false;
  }
}
