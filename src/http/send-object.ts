import type { ServerResponse } from 'node:http';
import { pipeline, Transform, type Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { openResource } from '../resources/read.js';
import type { Located } from '../resources/locate.js';
import type { ReadGate } from './read-gate.js';

/** What every read shares: its limit, and how long a client may take no bytes (server.send-idle-timeout-seconds). */
export interface SendDeps {
  reads: ReadGate;
  idleSeconds: number;
  /** Told the bytes of each object as they are sent (blobgate_served_bytes_total); without it they are not counted. */
  served?(store: string, bytes: number): void;
}

/**
 * Streams a resource (or the range the client asked for) with the headers a
 * download needs. The read holds a slot of `deps.reads` until its response
 * closes, and is cut off when the client's socket takes no byte for
 * `deps.idleSeconds`, so a reader that stops reading gives its socket and
 * the stored object's descriptor back.
 */
export async function sendObject(
  deps: SendDeps,
  reply: FastifyReply,
  located: Located,
  rangeHeader: string | undefined,
  opts: { download?: boolean; filename?: string } = {},
): Promise<FastifyReply> {
  const release = deps.reads.take(located.loc.workspace);
  // 'close' comes when the answer is done or the connection is gone, whatever was sent (an error answer too).
  if (reply.raw.destroyed) release();
  else reply.raw.once('close', release);
  let read: Awaited<ReturnType<typeof openResource>>;
  try {
    read = await openResource(located, rangeHeader, opts);
  } catch (err) {
    release();
    throw err;
  }
  try {
    const { meta } = read.object;
    reply.header('content-type', meta.contentType);
    reply.header('accept-ranges', 'bytes');
    if (meta.sha256) reply.header('etag', `"${meta.sha256}"`);
    reply.header('cache-control', 'private, no-store');
    reply.header('x-content-type-options', 'nosniff');
    if (read.disposition) reply.header('content-disposition', read.disposition);
    if (read.range) {
      reply.code(206);
      reply.header('content-range', `bytes ${read.range.start}-${read.range.end}/${meta.size}`);
      reply.header('content-length', String(read.range.end - read.range.start + 1));
    } else {
      reply.header('content-length', String(meta.size));
    }
    // (A client that left while the object was opened: fastify destroys the stream it is handed.)
    cutWhenStalled(reply.raw, read.body, deps.idleSeconds);
    return reply.send(deps.served ? counted(read.body, (n) => deps.served?.(located.loc.store, n)) : read.body);
  } catch (err) {
    // The reply never took the stream: it is ours to close.
    read.body.destroy();
    release();
    throw err;
  }
}

/**
 * The stored stream with each chunk's size told to `sent`. One pipeline owns
 * both from birth: the reply destroying the counter (the client left)
 * destroys the stored stream, and the stored stream destroyed (a stall cut,
 * a read error) destroys the counter, whose error the reply then reports.
 */
function counted(body: Readable, sent: (n: number) => void): Readable {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent(chunk.length);
      done(null, chunk);
    },
  });
  return pipeline(body, counter, () => undefined);
}

/**
 * Destroys the response and the stored stream once the socket has taken no
 * byte for `seconds`. Progress is the socket's `bytesWritten`: it stops
 * growing when the kernel's send buffer is full and backpressure holds the
 * rest in the stream. Checked four times per period, so a cut comes between
 * `seconds` and 1.25 × `seconds` after the last byte left.
 */
function cutWhenStalled(res: ServerResponse, body: Readable, seconds: number): void {
  const socket = res.socket;
  if (!socket) return;
  let last = socket.bytesWritten;
  let lastAt = Date.now();
  const timer = setInterval(() => {
    const now = socket.bytesWritten;
    if (now !== last) {
      last = now;
      lastAt = Date.now();
    } else if (Date.now() - lastAt >= seconds * 1000) {
      clearInterval(timer);
      res.destroy();
      body.destroy();
    }
  }, Math.max(1, (seconds * 1000) / 4));
  timer.unref();
  res.once('close', () => clearInterval(timer));
}
