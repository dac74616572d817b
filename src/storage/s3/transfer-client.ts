import { CreateMultipartUploadCommand, type S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { setImmediate as nextMacrotask } from 'node:timers/promises';

/**
 * A view of the S3 client for one lib-storage `Upload`, to work around gaps
 * in @aws-sdk/lib-storage (read in the pinned 3.1169 source, Upload.js) that
 * otherwise leave debris, or let a failed write return before its cleanup:
 *
 * - Abort does not wait for cleanup (the "abort not cleaning up / hanging"
 *   reports, aws-sdk-js-v3 #2311): `done()` races the upload against the
 *   abort signal, so after `upload.abort()` it rejects at once while the
 *   upload loop runs on in the background and sends AbortMultipartUpload
 *   later, after the parts in flight came back, or never, if the body stream
 *   stalls. PR #7322 ("waits that *all* pending uploads are finished before
 *   calling AbortMultipartUpload") is still open. `settled()` lets the driver
 *   wait until every request of the upload has come back before it sweeps up
 *   and rejects; the driver also destroys the body so the loop cannot stall.
 * - Requests are not abortable: lib-storage sends UploadPart (and its
 *   single-part PutObject, #5109, which the driver never uses) without an
 *   abort signal, so parts in flight keep uploading after abort. `cancel()`
 *   aborts them at the HTTP layer and refuses any new part or upload.
 * - The driver does not rely on lib-storage alone to abort the multipart
 *   upload (#8299: a failed part-count check once threw without aborting,
 *   stranding every uploaded part): each UploadId created through this view
 *   is recorded, and the driver aborts it itself.
 *
 * CreateMultipartUpload and CompleteMultipartUpload are never cancelled
 * mid-flight: a cancelled request may still take effect on the server, and
 * then its UploadId (or the completed object) would be unknown to us.
 */
export interface TransferClient {
  /** Hand this to `new Upload({ client })`. */
  readonly client: S3Client;
  /** UploadIds of every multipart upload created through `client`. */
  readonly uploadIds: ReadonlySet<string>;
  /** Aborts UploadPart requests in flight and refuses new parts and new multipart uploads. */
  cancel(): void;
  /** Resolves once no request sent through `client` is in flight. */
  settled(): Promise<void>;
}

type Send = (command: unknown, options?: { abortSignal?: AbortSignal }) => Promise<unknown>;

export function trackTransfer(target: S3Client): TransferClient {
  const inFlight = new Set<Promise<unknown>>();
  const uploadIds = new Set<string>();
  const parts = new AbortController();
  const realSend = target.send.bind(target) as unknown as Send;

  const send: Send = (command, options) => {
    const isPart = command instanceof UploadPartCommand;
    const isCreate = command instanceof CreateMultipartUploadCommand;
    if (parts.signal.aborted && (isPart || isCreate)) {
      return Promise.reject(new Error('The transfer was cancelled; no new parts are sent.'));
    }
    let p = realSend(command, isPart ? { ...options, abortSignal: parts.signal } : options);
    if (isCreate) {
      p = p.then((out) => {
        const id = (out as { UploadId?: string }).UploadId;
        if (id) uploadIds.add(id);
        return out;
      });
    }
    inFlight.add(p);
    const forget = () => inFlight.delete(p);
    p.then(forget, forget);
    return p;
  };

  const client = new Proxy(target, {
    get(t, prop) {
      if (prop === 'send') return send;
      const value: unknown = Reflect.get(t, prop, t);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(t) : value;
    },
  });

  return {
    client,
    uploadIds,
    cancel: () => parts.abort(),
    async settled() {
      // A request that settles lets lib-storage's loop run on (microtasks,
      // stream ticks) and maybe send the next one, e.g. its own
      // AbortMultipartUpload: look again after a macrotask until quiet.
      do {
        await Promise.allSettled([...inFlight]);
        await nextMacrotask();
      } while (inFlight.size > 0);
    },
  };
}
