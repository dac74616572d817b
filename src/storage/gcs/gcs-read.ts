import type { File, FileMetadata } from '@google-cloud/storage';
import type { Readable } from 'node:stream';
import type { ObjectMeta, ResolvedRange } from '../driver.js';
import { decodeMeta } from '../meta-codec.js';

/** Object meta from a GCS object resource (custom metadata via meta-codec.ts, size and content type native). */
export function metaOf(md: FileMetadata): ObjectMeta {
  const custom: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.metadata ?? {})) if (typeof v === 'string') custom[k] = v;
  const created = md.timeCreated === undefined ? undefined : new Date(md.timeCreated);
  return decodeMeta(custom, {
    size: Number(md.size ?? 0),
    ...(md.contentType === undefined ? {} : { contentType: md.contentType }),
    ...(created === undefined || Number.isNaN(created.getTime()) ? {} : { lastModified: created }),
  });
}

/**
 * Opens a download of `file` (pinned to a generation by the caller) and
 * waits until GCS answered with a success status, so that a missing object
 * rejects here instead of erroring the stream the caller got. The client
 * sends the request on the first read; `read(0)` asks for it without
 * consuming anything, and backpressure holds the body until the caller reads.
 * Whole reads are crc32c-checked by the client at the end of the stream;
 * ranged reads cannot be (`validation: false`).
 */
export async function openDownload(file: File, range: ResolvedRange | undefined): Promise<Readable> {
  const body: Readable = file.createReadStream(range ? { start: range.start, end: range.end, validation: false } : { validation: 'crc32c' });
  try {
    await answered(body);
    return body;
  } catch (err) {
    body.destroy();
    throw err;
  }
}

function answered(body: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      body.off('response', onResponse);
      body.off('error', onError);
      body.off('end', onEnd);
    };
    const onResponse = (res: { statusCode?: unknown; status?: unknown }): void => {
      const status = typeof res.statusCode === 'number' ? res.statusCode : res.status;
      // A failure status is followed by an 'error' carrying the server's answer: wait for that.
      if (typeof status === 'number' && status < 300) {
        done();
        resolve();
      }
    };
    const onError = (err: unknown): void => {
      done();
      reject(err);
    };
    const onEnd = (): void => {
      done();
      resolve();
    };
    body.on('response', onResponse);
    body.once('error', onError);
    body.once('end', onEnd);
    body.read(0);
  });
}
