import { BlobgateError } from '../errors.js';
import type { StoredObject, Tier } from '../storage/driver.js';
import { persistBody, type PersistBodyRequest } from './persist-body.js';

/** Who writes under a cap; the refusal names what that writer can change. */
export type CapSource =
  | { caller: 'step'; tier: Tier; tierCap: number; maxResponseBytes?: number }
  | { caller: 'upload'; tierCap: number };

export interface WriteCap {
  /** The effective cap: exactly this many bytes are accepted, one more is refused. */
  readonly bytes: number;
  /** The refusal; `announced` when a Content-Length gave the breach away before any byte was stored. */
  exceeded(announced?: number): BlobgateError;
}

/**
 * The one cap policy: the effective cap of a write (the tier's, or a step's
 * client-opts.max-response-bytes when lower) and a `cap_exceeded` message
 * that fits its caller. A step is told about its tier and
 * max-response-bytes; an upload, which has neither, about the retained tier.
 */
export function writeCap(source: CapSource): WriteCap {
  const stepLimit = source.caller === 'step' ? source.maxResponseBytes : undefined;
  const bytes = stepLimit !== undefined && stepLimit < source.tierCap ? stepLimit : source.tierCap;
  const byStep = bytes < source.tierCap;
  const [subject, limit, remedy] = wording(source, byStep);
  return {
    bytes,
    exceeded(announced) {
      const seen = announced === undefined ? 'more bytes than that arrived' : `the source announced ${announced} bytes`;
      return new BlobgateError('cap_exceeded', `${subject} is larger than ${limit} of ${bytes} bytes (${seen}); ${remedy}`, {
        'max-bytes': bytes,
        ...(announced === undefined ? {} : { 'announced-bytes': announced }),
      });
    },
  };
}

function wording(source: CapSource, byStep: boolean): [subject: string, limit: string, remedy: string] {
  if (source.caller === 'upload') {
    return ['The file', "the retained tier's write cap", 'uploads are stored in the retained tier; send a smaller file, or fetch a large one with an HTTP step that persists to the ephemeral tier.'];
  }
  if (byStep) return ['The response', 'client-opts.max-response-bytes', `raise client-opts.max-response-bytes, up to the ${source.tier} tier's cap of ${source.tierCap} bytes.`];
  if (source.tier === 'retained') return ['The response', "the retained tier's write cap", 'persist large downloads to the ephemeral tier (persist.tier "ephemeral").'];
  return ['The response', "the ephemeral tier's write cap", 'that is the largest body this gateway stores (tiers.ephemeral.cap-bytes).'];
}

/**
 * persistBody under a WriteCap: a breach found by the announced length or by
 * the store's byte count is answered in the caller's words (the store's
 * error stays as the cause).
 */
export async function persistUnderCap(cap: WriteCap, req: Omit<PersistBodyRequest, 'cap'>): Promise<StoredObject> {
  try {
    return await persistBody({ ...req, cap: cap.bytes });
  } catch (err) {
    if (!(err instanceof BlobgateError) || err.code !== 'cap_exceeded') throw err;
    const announced = err.details?.['announced-bytes'];
    const refusal = cap.exceeded(typeof announced === 'number' ? announced : undefined);
    throw new BlobgateError(refusal.code, refusal.message, refusal.details, { cause: err });
  }
}
