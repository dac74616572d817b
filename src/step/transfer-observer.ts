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
  /**
   * Progress of the store write started last: called with each chunk's size
   * as it flows into the store, between storeWriteStarted and the call of
   * the function it returned. Optional: without it the body is not counted.
   */
  bytesMoved?(n: number): void;
  /** The size the source announced for the store write started last (a Content-Length of the decoded body). Optional. */
  sizeAnnounced?(bytes: number): void;
}
