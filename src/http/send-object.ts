import type { FastifyReply } from 'fastify';
import { openResource } from '../resources/read.js';
import type { Located } from '../resources/locate.js';

/** Streams a resource (or the range the client asked for) with the headers a download needs. */
export async function sendObject(
  reply: FastifyReply,
  located: Located,
  rangeHeader: string | undefined,
  opts: { download?: boolean; filename?: string } = {},
): Promise<FastifyReply> {
  const read = await openResource(located, rangeHeader, opts);
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
    return reply.send(read.body);
  } catch (err) {
    // The reply never took the stream: it is ours to close.
    read.body.destroy();
    throw err;
  }
}
