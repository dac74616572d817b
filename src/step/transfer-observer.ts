/**
 * What the step runner reports while it works, for whoever counts it (the
 * HTTP layer's Prometheus metrics implement this). The runner owns the
 * interface, so it depends on nothing above it.
 */
export interface TransferObserver {
  /** An upstream request is sent; the returned function is called once, with the status or the error code. */
  upstreamStarted(): (outcome: string) => void;
  /** A body starts streaming into `store`; the returned function is called once, with `ok` or the error code. */
  storeWriteStarted(store: string): (outcome: string) => void;
}
