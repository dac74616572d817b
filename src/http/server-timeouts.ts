import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';

/**
 * Node's own timeouts on what a client sends, as fastify options. Fastify
 * turns Node's request timeout off by default, and Node's headers timeout is
 * checked only every 30 s: without these a client that trickles its headers
 * or its body holds a connection (and for an upload, a transfer slot) for as
 * long as it likes. `headersTimeout` bounds the time to the end of the
 * headers; `requestTimeout` bounds the whole request — the body included, so
 * for uploads it must allow the largest retained upload on a slow link
 * (README "Timeouts and fairness" explains the defaults).
 */
export function serverTimeouts(server: Config['server']): {
  requestTimeout: number;
  http: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number };
  clientErrorHandler: (err: Error & { code?: string }, socket: Socket) => void;
} {
  const headersTimeout = Math.max(1, Math.round(server.headersTimeoutSeconds * 1000));
  const requestTimeout = Math.max(1, Math.round(server.requestTimeoutSeconds * 1000));
  return {
    requestTimeout,
    http: {
      headersTimeout,
      // Node checks Server construction against its own 300 s default unless told the real value.
      requestTimeout,
      // A timeout fires when Node next checks: four checks per headers timeout, at most one a second.
      connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.round(headersTimeout / 4))),
    },
    clientErrorHandler: answerClientError,
  };
}

/**
 * Answers what Node reports about a connection before fastify sees a request:
 * a timed-out request is `client_timeout` (408), a malformed one
 * `invalid_request`, both in the catalogue's JSON; then the socket is closed.
 * A response already under way on the socket is left alone (writing a second
 * one would corrupt it).
 */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const answer =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new BlobgateError(
          'client_timeout',
          'The request did not arrive in time (headers within server.headers-timeout-seconds, the whole request within server.request-timeout-seconds); nothing was stored. Send it again, faster.',
        )
      : new BlobgateError('invalid_request', err.code === 'HPE_HEADER_OVERFLOW' ? 'The request headers are larger than the server accepts.' : 'The HTTP request is malformed.');
  // Node's own handler makes the same check (lib/_http_server.js, socketOnError).
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify(answer.toJSON());
    socket.write(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
