/**
 * Shared by the S3 and GCS writers, which decide between one request and a
 * multipart/resumable upload by reading the first part of the (metered) body.
 */

/** Reads until more than `limit` bytes arrived or the stream ended. */
export async function readHead(bytes: AsyncIterator<Buffer>, limit: number): Promise<{ chunks: Buffer[]; ended: boolean }> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length <= limit) {
    const r = await bytes.next();
    if (r.done) return { chunks, ended: true };
    chunks.push(r.value);
    length += r.value.length;
  }
  return { chunks, ended: false };
}

/** The already-read head, then the rest of the body. */
export async function* feed(head: Buffer[], bytes: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  while (head.length > 0) yield head.shift() as Buffer; // shift: the head is not held twice
  for (;;) {
    const r = await bytes.next();
    if (r.done) return;
    yield r.value;
  }
}
