// A GCS JSON-API test server (node:http only, objects in memory), faithful to the protocol
// that @google-cloud/storage 7.x and rclone's Go client speak. See docs/testing.md#gcs-the-projects-own-json-api-server.
//
// Routes (every JSON-API path is accepted with and without the /storage/v1 prefix, because
// with STORAGE_EMULATOR_HOST / apiEndpoint the Node client drops it for metadata calls):
//   POST   /upload/storage/v1/b/:b/o?uploadType=resumable|multipart|media
//   PUT|POST|DELETE /upload/storage/v1/b/:b/o?…&upload_id=…       resumable session
//   POST|GET /storage/v1/b            GET|PATCH|DELETE /storage/v1/b/:b  (PATCH: lifecycle only)
//   GET    /storage/v1/b/:b/o          (list)
//   GET|PATCH|PUT|DELETE /storage/v1/b/:b/o/:object   (alt=media → bytes)
//   POST   /storage/v1/b/:b/o/:src/rewriteTo/b/:b2/o/:dest  (server-side copy, File.copy)
//   POST   /storage/v1/b/:b/o/:dest/compose                  (concatenation, Bucket.combine)
//   GET    /download/storage/v1/b/:b/o/:object         (mediaLink)
//   GET|HEAD /:b/:object?X-Goog-Signature=…           (XML API, V4 signed URL)
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type State, readBody, sendError } from './common.js';
import { bucketLifecycle, createBucket, handleBuckets, handleList, handleObject, handleRewrite } from './objects.js';
import { handleCompose } from './compose.js';
import { handleUploadStart } from './uploads.js';
import { handleSessionDelete, handleSessionWrite } from './sessions.js';
import { handleXmlObject } from './signing.js';
import { type FaultHandle, type FaultOptions, FaultPlan, Outage, type StoreFault } from '../faults.js';
import { type GcsOperation, failRequest, gcsOperation, loseAnswer } from './operations.js';

export type { GcsOperation } from './operations.js';

export interface GcsTestServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Resumable sessions neither finalized nor cancelled. */
  openSessions(bucket?: string): Array<{ bucket: string; name: string; received: number }>;
  objectNames(bucket: string): string[];
  createBucket(name: string): void;
  /** The bucket's lifecycle configuration as stored (set by buckets.patch), or undefined when it has none. */
  bucketLifecycle(bucket: string): { rule: Record<string, unknown>[] } | undefined;
  /**
   * Fault injection: the next `times` rewrite requests (what File.copy sends)
   * get no answer, their connection is dropped after the request was read —
   * what a client sees when a keep-alive socket closes under its request.
   * The rewrite does not take effect. Returns how many were dropped so far.
   */
  dropRewrites(times: number): { readonly dropped: number };
  /**
   * Fault injection: the next matching request(s) of one operation kind
   * (support/servers/gcs/operations.ts) are not carried out and get a 500 or 503,
   * or no answer at all ('drop').
   */
  fail(op: GcsOperation, fault: StoreFault, opts?: FaultOptions): FaultHandle;
  /**
   * Fault injection after the fact: the next matching request(s) ARE carried
   * out (e.g. the object is committed), then the answer is lost — replaced by
   * a 500/503 or the connection dropped — as when a front end fails after the
   * backend committed. The client's retry then meets its own write.
   */
  failAfter(op: GcsOperation, fault: StoreFault, opts?: FaultOptions): FaultHandle;
  /**
   * Fault injection mid-body: the next matching chunk request(s) on a
   * session get `bytes` of their body through, which the session keeps (GCS
   * persists what arrived), then the connection is cut unanswered. A status
   * query then reports a persisted size inside the chunk.
   */
  cutChunk(bytes: number, opts?: FaultOptions): FaultHandle;
  /** The most requests of one operation kind that were in progress at once since the server started (or since `resetPeaks`). */
  peakConcurrency(op: GcsOperation): number;
  /** How many requests of one operation kind arrived since the server started. */
  requestCount(op: GcsOperation): number;
  resetPeaks(): void;
  /**
   * Holds every request of one operation kind (before it is carried out)
   * until `release()`: for tests that need requests to be in flight at once.
   */
  hold(op: GcsOperation): { readonly waiting: number; release(): void };
  /** Disarms every fault not yet fired. */
  clearFaults(): void;
  /** An outage: stops listening and cuts open connections; buckets, objects and sessions are kept. */
  outage(): Promise<void>;
  /** Ends the outage: listens again on the same port. */
  restore(): Promise<void>;
}

export interface GcsServerOptions {
  host?: string;
  port?: number;
  /** Public key (PEM) of the service account whose V4 signed URLs are accepted. */
  serviceAccountPublicKeyPem?: string;
  /** When set, X-Goog-Credential must name this account. */
  clientEmail?: string;
}

function splitPath(pathname: string): string[] | undefined {
  try {
    return pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

async function route(state: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const rawUrl = req.url ?? '/';
  const qi = rawUrl.indexOf('?');
  const rawPath = qi < 0 ? rawUrl : rawUrl.slice(0, qi);
  const rawQuery = qi < 0 ? '' : rawUrl.slice(qi + 1);
  const q = new URLSearchParams(rawQuery);
  const method = req.method ?? 'GET';
  const seg = splitPath(rawPath);
  if (!seg) {
    await readBody(req);
    return sendError(res, 400, 'Invalid path encoding', 'invalid');
  }
  const op = gcsOperation(method, seg, q, req.headers);
  if (op !== undefined) countConcurrency(state, op, res);
  const fault = op === undefined ? undefined : state.faults.take(op);
  if (fault !== undefined) return failRequest(req, res, fault);
  const held = op === undefined ? undefined : state.holds.get(op);
  if (held) await held.wait();
  const late = op === undefined ? undefined : state.lateFaults.take(op);
  if (late !== undefined) loseAnswer(req, res, late);

  // XML API (signed URLs) is recognised by its query parameters.
  if (q.has('X-Goog-Signature') || q.has('X-Goog-Algorithm')) {
    await readBody(req);
    return handleXmlObject(state, req, res, rawQuery, seg);
  }

  // Uploads: /upload/storage/v1/b/:bucket/o
  if (seg[0] === 'upload') {
    const p = seg[1] === 'storage' && seg[2] === 'v1' ? seg.slice(3) : seg.slice(1);
    if (p.length === 3 && p[0] === 'b' && p[2] === 'o') {
      const uploadId = q.get('upload_id');
      if (uploadId !== null) {
        const s = state.sessions.get(uploadId);
        if (!s || s.bucket !== p[1]) {
          await readBody(req);
          return sendError(res, 404, 'Not Found', 'notFound');
        }
        if (method === 'PUT' || method === 'POST') return handleSessionWrite(state, req, res, s);
        if (method === 'DELETE') return handleSessionDelete(req, res, s);
        await readBody(req);
        return sendError(res, 405, 'Method not allowed', 'methodNotAllowed');
      }
      if (method === 'POST') return handleUploadStart(state, req, res, p[1]!, q);
    }
    await readBody(req);
    return sendError(res, 404, 'Not Found', 'notFound');
  }

  // Media link: /download/storage/v1/b/:bucket/o/:object
  if (seg[0] === 'download') {
    const p = seg[1] === 'storage' && seg[2] === 'v1' ? seg.slice(3) : seg.slice(1);
    if (p.length >= 4 && p[0] === 'b' && p[2] === 'o' && (method === 'GET' || method === 'HEAD')) {
      return handleObject(state, req, res, p[1]!, p.slice(3).join('/'), q, true);
    }
    await readBody(req);
    return sendError(res, 404, 'Not Found', 'notFound');
  }

  // JSON API, with or without /storage/v1.
  const p = seg[0] === 'storage' && seg[1] === 'v1' ? seg.slice(2) : seg;
  if (p[0] === 'b') {
    if (p.length === 1 || (p.length === 2 && p[1] === '')) return handleBuckets(state, req, res, undefined);
    if (p.length === 2) return handleBuckets(state, req, res, p[1]);
    if (p.length === 3 && p[2] === 'o') {
      await readBody(req);
      if (method === 'GET') return handleList(state, req, res, p[1]!, q);
      return sendError(res, 405, 'Method not allowed', 'methodNotAllowed');
    }
    if (method === 'POST' && p.length === 9 && p[2] === 'o' && p[4] === 'rewriteTo' && p[5] === 'b' && p[7] === 'o') {
      return handleRewrite(state, req, res, { bucket: p[1]!, name: p[3]! }, { bucket: p[6]!, name: p[8]! }, q);
    }
    if (method === 'POST' && p.length >= 5 && p[2] === 'o' && p[p.length - 1] === 'compose') {
      return handleCompose(state, req, res, p[1]!, p.slice(3, -1).join('/'), q);
    }
    // Object names are one %2F-encoded segment for the real clients; unencoded '/' is tolerated.
    if (p.length >= 4 && p[2] === 'o') return handleObject(state, req, res, p[1]!, p.slice(3).join('/'), q);
  }

  // Anything else that looks like /:bucket/:object is an XML-API read without a signature.
  if ((method === 'GET' || method === 'HEAD') && seg.length >= 2 && seg[0] && seg[1]) {
    await readBody(req);
    return handleXmlObject(state, req, res, rawQuery, seg);
  }
  await readBody(req);
  sendError(res, 404, 'Not Found', 'notFound');
}

function countConcurrency(state: State, op: GcsOperation, res: ServerResponse): void {
  state.counts.set(op, (state.counts.get(op) ?? 0) + 1);
  const now = (state.active.get(op) ?? 0) + 1;
  state.active.set(op, now);
  state.peaks.set(op, Math.max(state.peaks.get(op) ?? 0, now));
  res.once('close', () => state.active.set(op, (state.active.get(op) ?? 1) - 1));
}

export async function startGcsServer(opts: GcsServerOptions = {}): Promise<GcsTestServer> {
  const state: State = {
    buckets: new Map(),
    sessions: new Map(),
    lastGeneration: 0,
    faults: new FaultPlan<GcsOperation>(),
    lateFaults: new FaultPlan<GcsOperation>(),
    active: new Map(),
    peaks: new Map(),
    holds: new Map(),
    counts: new Map(),
    cuts: [],
    signing: opts.serviceAccountPublicKeyPem
      ? { publicKeyPem: opts.serviceAccountPublicKeyPem, clientEmail: opts.clientEmail }
      : undefined,
  };
  const debug = process.env.GCS_TEST_SERVER_DEBUG ? (l: string) => process.stderr.write(`[gcs-test-server] ${l}\n`) : undefined;
  const server = createServer((req, res) => {
    if (debug) {
      const h = req.headers;
      const extra = ['content-range', 'range', 'content-type', 'x-goog-hash', 'x-guploader-no-308']
        .filter(k => h[k] !== undefined)
        .map(k => `${k}=${String(h[k])}`)
        .join(' ');
      const auth = h.authorization ? ' [authorization header present]' : '';
      res.on('finish', () => debug(`${req.method} ${req.url} ${extra}${auth} -> ${res.statusCode}`));
    }
    route(state, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, `Test server error: ${String(err)}`, 'backendError');
      else res.destroy();
    });
  });
  // Large chunked uploads on a slow CI box must not hit the default request timeout.
  server.requestTimeout = 0;
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const outage = new Outage(server, port, host);
  return {
    url: `http://${host}:${port}`,
    port,
    stop: () =>
      outage.down
        ? Promise.resolve()
        : new Promise<void>(resolve => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
    openSessions: bucket =>
      [...state.sessions.values()]
        .filter(s => s.state === 'open' && (bucket === undefined || s.bucket === bucket))
        .map(s => ({ bucket: s.bucket, name: s.name, received: s.received })),
    objectNames: bucket => [...(state.buckets.get(bucket)?.objects.keys() ?? [])].sort(),
    createBucket: name => void createBucket(state, name),
    bucketLifecycle: name => bucketLifecycle(state, name),
    dropRewrites: times => {
      state.faults.clear('rewrite');
      const handle = state.faults.inject('rewrite', 'drop', { times });
      return {
        get dropped() {
          return handle.hits;
        },
      };
    },
    peakConcurrency: op => state.peaks.get(op) ?? 0,
    resetPeaks: () => state.peaks.clear(),
    requestCount: op => state.counts.get(op) ?? 0,
    hold: op => {
      let waiting = 0;
      let release!: () => void;
      const released = new Promise<void>(r => (release = r));
      const gate = {
        wait: async () => {
          waiting++;
          await released;
        },
      };
      state.holds.set(op, gate);
      return {
        get waiting() {
          return waiting;
        },
        release: () => {
          if (state.holds.get(op) === gate) state.holds.delete(op);
          release();
        },
      };
    },
    fail: (op, fault, opts) => state.faults.inject(op, fault, opts),
    failAfter: (op, fault, opts) => state.lateFaults.inject(op, fault, opts),
    cutChunk: (bytes, opts) => {
      const cut = { bytes, skip: opts?.skip ?? 0, times: opts?.times ?? 1, hits: 0 };
      state.cuts.push(cut);
      return {
        get hits() {
          return cut.hits;
        },
      };
    },
    clearFaults: () => {
      state.faults.clear();
      state.lateFaults.clear();
      state.cuts.length = 0;
    },
    outage: () => outage.start(),
    restore: () => outage.end(),
  };
}
