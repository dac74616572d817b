import type { FastifyReply, FastifyRequest } from 'fastify';
import { ACTIVE_CONTENT_CSP, isActiveContent } from '../storage/disposition.js';

/**
 * onSend hook of every route that serves stored bytes from blobgate's origin
 * (`/v1/resources/content`, `/v1/signed/…`): active content (HTML, SVG, XML)
 * is sandboxed, and nothing is sniffed. It runs after the route set the
 * stored content type and before the headers are written.
 */
export async function sandboxActiveContent(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  const type = reply.getHeader('content-type');
  if (typeof type === 'string' && isActiveContent(type)) reply.header('content-security-policy', ACTIVE_CONTENT_CSP);
  reply.header('x-content-type-options', 'nosniff');
  return payload;
}
