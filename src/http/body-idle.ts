import type { IncomingMessage } from 'node:http';
import { BlobgateError } from '../errors.js';

/**
 * Aborts `controller` with `client_timeout` when an upload body stops: no
 * byte arrives for `seconds` while blobgate is reading it. Time the body is
 * not being read — the upload waits for a transfer slot, or the store pushes
 * back — does not count against the client. Progress is read from the
 * socket's byte count, which a watcher can poll without touching the stream
 * (a 'data' listener would switch it into flowing mode under busboy's feet).
 *
 * Stops by itself when the body has arrived, the request or response closes,
 * or the controller aborts for another reason.
 */
export function abortWhenBodyIdle(raw: IncomingMessage, seconds: number, controller: AbortController): void {
  if (raw.complete) return;
  const idleMs = seconds * 1000;
  const socket = raw.socket;
  let bytes = socket.bytesRead;
  let since = Date.now();
  const check = (): void => {
    const now = Date.now();
    // Not reading (paused by backpressure, or not yet piped anywhere): the client is not the one waiting.
    const reading = raw.readableFlowing === true && raw.readableLength === 0;
    if (socket.bytesRead !== bytes || !reading) {
      bytes = socket.bytesRead;
      since = now;
    } else if (now - since >= idleMs) {
      stop();
      controller.abort(
        new BlobgateError('client_timeout', `No byte of the upload body arrived for ${seconds} s (server.upload-idle-timeout-seconds); nothing was stored. Send it again.`, {
          'idle-seconds': seconds,
        }),
      );
    }
  };
  const timer = setInterval(check, Math.max(10, Math.min(1000, idleMs / 4)));
  timer.unref();
  const stop = (): void => {
    clearInterval(timer);
    raw.off('end', stop);
    raw.off('close', stop);
    controller.signal.removeEventListener('abort', stop);
  };
  raw.once('end', stop);
  raw.once('close', stop);
  controller.signal.addEventListener('abort', stop, { once: true });
}
