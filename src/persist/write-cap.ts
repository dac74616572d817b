import { BlobgateError } from '../errors.js';
import type { StoredObject, Tier } from '../storage/driver.js';
import { persistBody, type PersistBodyRequest } from './persist-body.js';

/** Who writes under a cap; the refusal names what that writer can change. */
export type CapSource =
  | { caller: 'step'; tier: Tier; tierCap: number; maxResponseBytes?: number }
  | { caller: 'upload'; tier: Tier; tierCap: number; ephemeralCap: number };

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
 * max-response-bytes; an upload, which has no max-response-bytes, about its
 * tier (and the ephemeral tier's larger cap, when it has one).
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
        ...(source.caller === 'upload' ? { tier: source.tier, ...(roomInEphemeral(source) ? { 'ephemeral-max-bytes': source.ephemeralCap } : {}) } : {}),
      });
    },
  };
}

function wording(source: CapSource, byStep: boolean): [subject: string, limit: string, remedy: string] {
  if (source.caller === 'upload') {
    const limit = `the ${source.tier} tier's write cap`;
    if (roomInEphemeral(source)) {
      return ['The file', limit, `upload it to the ephemeral tier (field or query parameter tier=ephemeral, up to ${source.ephemeralCap} bytes; it expires there), or send a smaller file.`];
    }
    return ['The file', limit, 'send a smaller file.'];
  }
  if (byStep) return ['The response', 'client-opts.max-response-bytes', `raise client-opts.max-response-bytes, up to the ${source.tier} tier's cap of ${source.tierCap} bytes.`];
  if (source.tier === 'retained') return ['The response', "the retained tier's write cap", 'persist large downloads to the ephemeral tier (persist.tier "ephemeral").'];
  return ['The response', "the ephemeral tier's write cap", 'that is the largest body this gateway stores (tiers.ephemeral.cap-bytes).'];
}

/** An upload to the retained tier that the ephemeral tier would take. */
function roomInEphemeral(source: Extract<CapSource, { caller: 'upload' }>): boolean {
  return source.tier === 'retained' && source.ephemeralCap > source.tierCap;
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
