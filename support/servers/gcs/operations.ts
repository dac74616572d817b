// Which JSON-API operation a request is, for fault injection (support/servers/faults.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StoreFault } from '../faults.js';
import { readBody, sendError } from './common.js';

/**
 * The operation kinds faults can be armed for:
 *   session-start   POST /upload/…?uploadType=resumable
 *   chunk           PUT/POST on a session URL carrying bytes (Content-Range s-e/…)
 *   session-query   PUT on a session URL asking for its status (bytes *\/…)
 *   session-cancel  DELETE on a session URL
 *   single-upload   POST /upload/…?uploadType=multipart|media (one request, whole body)
 *   rewrite         POST …/rewriteTo/… (File.copy)
 *   compose         POST …/o/:dest/compose (Bucket.combine, parallel composite uploads)
 *   metadata-get    GET of an object resource
 *   media-get       GET of an object's bytes (alt=media, /download/…)
 *   delete          DELETE of an object
 *   list            GET of a bucket's object listing
 */
export type GcsOperation =
  | 'session-start'
  | 'chunk'
  | 'session-query'
  | 'session-cancel'
  | 'single-upload'
  | 'rewrite'
  | 'compose'
  | 'metadata-get'
  | 'media-get'
  | 'delete'
  | 'list';

export function gcsOperation(method: string, seg: string[], q: URLSearchParams, headers: IncomingMessage['headers']): GcsOperation | undefined {
  if (q.has('X-Goog-Signature') || q.has('X-Goog-Algorithm')) return undefined;
  if (seg[0] === 'upload') {
    if (q.has('upload_id')) {
      if (method === 'DELETE') return 'session-cancel';
      return /^\s*bytes\s+\*/i.test(String(headers['content-range'] ?? '')) ? 'session-query' : 'chunk';
    }
    const type = q.get('uploadType');
    if (method === 'POST' && type === 'resumable') return 'session-start';
    if (method === 'POST' && (type === 'multipart' || type === 'media')) return 'single-upload';
    return undefined;
  }
  if (seg[0] === 'download') return method === 'GET' ? 'media-get' : undefined;
  const p = seg[0] === 'storage' && seg[1] === 'v1' ? seg.slice(2) : seg;
  if (p[0] !== 'b') return undefined;
  if (p.length === 3 && p[2] === 'o') return method === 'GET' ? 'list' : undefined;
  if (p.length >= 9 && p[4] === 'rewriteTo') return method === 'POST' ? 'rewrite' : undefined;
  if (p.length >= 5 && p[2] === 'o' && p[p.length - 1] === 'compose' && method === 'POST') return 'compose';
  if (p.length >= 4 && p[2] === 'o') {
    if (method === 'GET') return q.get('alt') === 'media' ? 'media-get' : 'metadata-get';
    if (method === 'DELETE') return 'delete';
  }
  return undefined;
}

/**
 * Fails a request the way a GCS front end does: the body is read (so the
 * client is not cut off mid-send), nothing of it is kept, then either an
 * error answer (503 backendError / 500 internalError) or no answer at all.
 */
export async function failRequest(req: IncomingMessage, res: ServerResponse, fault: StoreFault): Promise<void> {
  await readBody(req);
  if (fault === 'drop') return void req.socket.destroy();
  if (fault === 503) return sendError(res, 503, 'We encountered an internal error. Please try again. (injected)', 'backendError');
  sendError(res, 500, 'Internal error. (injected)', 'internalError');
}

/**
 * Lets the request be carried out but loses its answer: whatever the handler
 * answers is replaced by a 500/503 error, or the connection is dropped
 * instead of answering. State changes made by the handler stay.
 */
export function loseAnswer(req: IncomingMessage, res: ServerResponse, fault: StoreFault): void {
  const writeHead = res.writeHead;
  const end = res.end;
  res.writeHead = function swallowed(this: ServerResponse) {
    return this;
  } as typeof res.writeHead;
  res.end = function replaced(this: ServerResponse) {
    res.writeHead = writeHead;
    res.end = end;
    if (fault === 'drop') req.socket.destroy();
    else if (fault === 503) sendError(res, 503, 'Backend error after the request was carried out. (injected)', 'backendError');
    else sendError(res, 500, 'Internal error after the request was carried out. (injected)', 'internalError');
    return this;
  } as typeof res.end;
}
