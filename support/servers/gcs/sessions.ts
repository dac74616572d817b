// Requests on a resumable session URL: chunks, single-request bodies, status queries,
// finalization and cancel. Bytes are persisted as they stream in (as GCS does), so an
// interrupted request leaves what arrived in the session and a status query reports it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { IncrementalHashes, type State, type UploadSession, baseUrl, objectResource, readBody, sendError, sendJson, takeCut } from './common.js';
import { commitObject, parseGoogHash } from './uploads.js';

/** GCS requires every non-final chunk to be at least (ideally a multiple of) 256 KiB. */
export const MIN_CHUNK = 256 * 1024;

export type ContentRange =
  | { kind: 'query'; total?: number } // bytes */*  or  bytes */N
  | { kind: 'open-ended'; start: number; total?: number } // bytes s-*/T (Node client, single request)
  | { kind: 'chunk'; start: number; end: number; total?: number } // bytes s-e/T
  | { kind: 'empty-final'; total: number }; // bytes N-(N-1)/N (Node client: empty last chunk)

export function parseContentRange(h: string | undefined): ContentRange | 'missing' | 'malformed' {
  if (h === undefined) return 'missing';
  const m = /^\s*bytes\s+(?:(\*)|(\d+)-(\d+|\*|-1))\/(\*|\d+)\s*$/i.exec(h);
  if (!m) return 'malformed';
  const total = m[4] === '*' ? undefined : Number(m[4]);
  if (m[1] === '*') return { kind: 'query', total };
  const start = Number(m[2]);
  if (m[3] === '*') return { kind: 'open-ended', start, total };
  if (m[3] === '-1') {
    // "bytes 0--1/0": the Node client's request for an empty object in chunked mode.
    return start === 0 && total === 0 ? { kind: 'empty-final', total: 0 } : 'malformed';
  }
  const end = Number(m[3]);
  if (end < start) return start === end + 1 && total === start ? { kind: 'empty-final', total } : 'malformed';
  if (total !== undefined && end >= total) return 'malformed';
  return { kind: 'chunk', start, end, total };
}

function sendIncomplete(req: IncomingMessage, res: ServerResponse, s: UploadSession): void {
  const headers: Record<string, string | number> = { 'Content-Length': 0, 'X-GUploader-UploadID': s.id };
  if (s.received > 0) headers.Range = `bytes=0-${s.received - 1}`;
  if (String(req.headers['x-guploader-no-308'] ?? '').toLowerCase() === 'yes') {
    // Go clients opt out of 308 (Go's http client reads it as "Permanent Redirect").
    res.writeHead(200, { ...headers, 'X-Http-Status-Code-Override': '308' });
  } else {
    // No Location header: 308 here is "Resume Incomplete", not a redirect.
    res.writeHead(308, 'Resume Incomplete', headers);
  }
  res.end();
}

function sendFinal(req: IncomingMessage, res: ServerResponse, s: UploadSession): void {
  sendJson(res, 200, objectResource(s.object!, baseUrl(req)), { 'X-GUploader-UploadID': s.id });
}

/** Commits the object; false (error already sent) when a finalization check fails. */
function finalize(state: State, req: IncomingMessage, res: ServerResponse, s: UploadSession): boolean {
  if (s.declaredLength !== undefined && s.received !== s.declaredLength) {
    const msg = `Upload size ${s.received} does not match X-Upload-Content-Length ${s.declaredLength}.`;
    return sendError(res, 400, msg, 'invalid'), false;
  }
  // The pieces as they arrived and the hashes kept as they did: finalizing copies and hashes nothing.
  const obj = commitObject(state, res, s.bucket, s.name, s.chunks, s, s.preconditions, parseGoogHash(req.headers['x-goog-hash']), s.hashes.digest());
  if (!obj) return false;
  s.state = 'final';
  s.object = { ...obj, data: [] }; // resource snapshot only: don't pin the bytes
  s.chunks = [];
  sendFinal(req, res, s);
  return true;
}

/**
 * Streams the body, persisting bytes [start, limit) that extend the persisted prefix.
 * Overlap with already persisted bytes is ignored (GCS keeps the first copy).
 */
function streamInto(req: IncomingMessage, s: UploadSession, start: number, limit: number, cut?: number): Promise<{ seen: number; complete: boolean }> {
  if (cut !== undefined) limit = Math.min(limit, start + cut);
  return new Promise(resolve => {
    let seen = 0;
    let done = false;
    const finish = (complete: boolean): void => {
      if (!done) (done = true), resolve({ seen, complete });
    };
    req.on('data', (c: Buffer) => {
      const at = start + seen;
      seen += c.length;
      if (s.state !== 'open' || at > s.received) return;
      const piece = c.subarray(s.received - at, Math.max(0, Math.min(c.length, limit - at)));
      if (piece.length > 0) {
        // Kept as it is, not copied: each read of the socket arrives in a buffer of its own
        // that nothing reuses. A copy per read was a third of this server's CPU per GiB.
        s.chunks.push(piece);
        s.received += piece.length;
        s.hashes.update(piece);
      }
      if (cut !== undefined && seen >= cut) req.socket.destroy(); // GcsTestServer.cutChunk
    });
    req.on('end', () => finish(true));
    req.on('error', () => finish(false));
    req.on('close', () => finish(req.complete));
  });
}

const badRange = (res: ServerResponse, msg: string): void => sendError(res, 400, msg, 'badRequest');

/** PUT or POST <session URL> (rclone POSTs its chunks). */
export async function handleSessionWrite(state: State, req: IncomingMessage, res: ServerResponse, s: UploadSession): Promise<void> {
  const cr = parseContentRange(req.headers['content-range']);
  const drainThen = async (reply: () => void): Promise<void> => {
    if ((await readBody(req)).complete) reply();
  };
  if (s.state === 'cancelled') return drainThen(() => sendError(res, 499, 'Upload has been cancelled.', 'clientClosedRequest'));
  // A finalized session keeps answering with the object resource; the body is ignored.
  if (s.state === 'final') return drainThen(() => sendFinal(req, res, s));
  if (cr === 'malformed') return drainThen(() => badRange(res, 'Failed to parse Content-Range header.'));

  if (cr !== 'missing' && (cr.kind === 'query' || cr.kind === 'empty-final')) {
    const { data, complete } = await readBody(req);
    if (!complete) return;
    if (data.length > 0) return badRange(res, 'Content-Range says no bytes, but the request has a body.');
    if (cr.total === undefined) return sendIncomplete(req, res, s);
    if (cr.total < s.received) return badRange(res, `Total size ${cr.total} is smaller than the ${s.received} bytes already uploaded.`);
    // "bytes */N" with N == persisted size finalizes (the Go client's empty last request
    // when the object size is a multiple of its chunk size).
    if (cr.total === s.received) return void finalize(state, req, res, s);
    return sendIncomplete(req, res, s);
  }

  // A request without Content-Range carries the whole object (single-request upload).
  const range: Exclude<ContentRange, { kind: 'query' | 'empty-final' }> = cr === 'missing' ? { kind: 'open-ended', start: 0 } : cr;
  let limit = Infinity;
  let finalTotal: number | undefined = range.total;
  if (range.kind === 'open-ended' && range.total !== undefined) limit = range.total;
  if (range.kind === 'chunk') {
    const len = range.end - range.start + 1;
    limit = range.end + 1;
    const final = range.total !== undefined && range.end + 1 === range.total;
    if (!final) finalTotal = undefined;
    if (!final && len < MIN_CHUNK) {
      const msg =
        `Invalid request. The number of bytes uploaded is required to be equal or greater than ${MIN_CHUNK}, ` +
        `except for the final request (it's recommended to be the exact multiple of ${MIN_CHUNK}). ` +
        `The received request contained ${len} bytes, which does not meet this requirement.`;
      return drainThen(() => badRange(res, msg));
    }
  }
  if (range.start > s.received) {
    // Gap: the chunk starts past the persisted offset. GCS cannot splice it in and fails the
    // request with 503; clients then query the status (`bytes */*`) and resend from the Range
    // it reports. Nothing of this request is kept.
    const msg = `Chunk starts at ${range.start} but only ${s.received} bytes have been persisted.`;
    return drainThen(() => sendError(res, 503, msg, 'backendError'));
  }

  const before = { received: s.received, chunks: s.chunks.length, hashes: s.hashes.copy() };
  const { seen, complete } = await streamInto(req, s, range.start, limit, takeCut(state));
  if (!complete) return; // interrupted: keep what arrived, never finalize
  if (s.state !== 'open') {
    // cancelled (or finalized by a concurrent request) while this body was streaming
    return s.state === 'final' ? sendFinal(req, res, s) : sendError(res, 499, 'Upload has been cancelled.', 'clientClosedRequest');
  }
  // A complete request that is rejected leaves the session as it was before it.
  const rollback = (): void => {
    s.chunks.length = before.chunks;
    s.received = before.received;
    s.hashes = before.hashes;
  };
  const reject = (msg: string): void => (rollback(), badRange(res, msg));
  if (range.kind === 'chunk' && seen !== range.end - range.start + 1) {
    return reject(`Content-Range declares ${range.end - range.start + 1} bytes but the request body has ${seen}.`);
  }
  if (range.kind === 'open-ended') {
    if (finalTotal !== undefined && range.start + seen !== finalTotal) {
      return reject(`Content-Range total ${finalTotal} does not match the ${range.start + seen} bytes sent.`);
    }
    finalTotal = range.start + seen; // "bytes s-*/*": this request ends the object
  }
  if (finalTotal === undefined) return sendIncomplete(req, res, s);
  if (s.received !== finalTotal) return reject(`Final size ${finalTotal} does not match the ${s.received} bytes persisted.`);
  if (!finalize(state, req, res, s)) rollback();
}

/** DELETE <session URL>: cancel. GCS answers 499 (Client Closed Request). */
export async function handleSessionDelete(req: IncomingMessage, res: ServerResponse, s: UploadSession): Promise<void> {
  await readBody(req);
  if (s.state === 'final') return sendError(res, 400, 'The upload has already been finalized.', 'badRequest');
  s.state = 'cancelled';
  s.chunks = [];
  s.received = 0;
  s.hashes = new IncrementalHashes();
  sendError(res, 499, 'Upload has been cancelled.', 'clientClosedRequest');
}
