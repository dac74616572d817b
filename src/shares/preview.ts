import type { Readable } from 'node:stream';
import { BlobgateError } from '../errors.js';
import { headLive, notFoundAsResource, type Located } from '../resources/locate.js';
import type { StoredObject } from '../storage/driver.js';
import { artifactKind, type ArtifactKind } from './artifact-kind.js';

/** The read limit a preview takes a slot of (the HTTP layer's ReadGate fits it). */
export interface ReadSlots {
  take(workspace: string): () => void;
}
import { PREVIEW_IMAGE_MAX_BYTES, PREVIEW_MAX_BYTES } from './limits.js';

export interface LoadedArtifact {
  object: StoredObject;
  kind: ArtifactKind;
  text?: string;
  image?: Buffer;
  truncated: boolean;
}

/**
 * Reads what the preview page shows of a live resource, never more than a
 * bound: the first PREVIEW_MAX_BYTES of a text-like artifact (a byte range,
 * so the store sends no more), an image whole when it is within
 * PREVIEW_IMAGE_MAX_BYTES, nothing of any other type. The read holds a slot
 * of the read limit while it runs.
 */
export async function loadPreview(located: Located, reads: ReadSlots): Promise<LoadedArtifact> {
  const object = await headLive(located);
  const { size, contentType } = object.meta;
  const kind = artifactKind(contentType);
  if (kind === 'other') return { object, kind, truncated: false };
  if (kind === 'image') {
    if (size > PREVIEW_IMAGE_MAX_BYTES) return { object, kind, truncated: false };
    return { object, kind, image: await readHead(located, reads, size, PREVIEW_IMAGE_MAX_BYTES), truncated: false };
  }
  const head = await readHead(located, reads, size, PREVIEW_MAX_BYTES);
  const truncated = size > PREVIEW_MAX_BYTES;
  // stream: true keeps a multi-byte character cut at the bound out of the text instead of turning it into U+FFFD.
  const text = new TextDecoder('utf-8').decode(head, { stream: truncated });
  return { object, kind, text: text.replace(/^\uFEFF/, ''), truncated };
}

/** The first min(size, bound) bytes of the object. */
async function readHead(located: Located, reads: ReadSlots, size: number, bound: number): Promise<Buffer> {
  const want = Math.min(size, bound);
  if (want === 0) return Buffer.alloc(0);
  const release = reads.take(located.loc.workspace);
  try {
    let body: Readable;
    try {
      body = (await located.driver.read(located.loc.key, { start: 0, end: want - 1 })).body;
    } catch (err) {
      throw notFoundAsResource(err, located);
    }
    return await collect(body, want);
  } finally {
    release();
  }
}

/** The stream's bytes, at most `limit` of them (a store that sends more than the range asked is cut off). */
async function collect(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      const room = limit - total;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      total += Math.min(chunk.length, room);
      if (total >= limit) break;
    }
  } catch (err) {
    throw new BlobgateError('storage_error', 'The store failed while the preview was read.', undefined, { cause: err });
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks, total);
}
