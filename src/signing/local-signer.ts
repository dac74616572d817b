import { createHmac, timingSafeEqual } from 'node:crypto';
import { BlobgateError } from '../errors.js';

/**
 * URLs that blobgate signs and serves itself, for drivers without their own
 * signing (the local store). HMAC-SHA256 over everything the URL grants:
 * store, key, expiry and the download disposition. Verified in constant time.
 */
export interface SignedGrant {
  store: string;
  key: string;
  /** Unix seconds. */
  expires: number;
  download: boolean;
  filename?: string;
}

export const SIGNED_PATH = '/v1/signed';

export class LocalSigner {
  constructor(
    private readonly secret: string,
    /** Called per URL: the listening port is known only once the server listens. */
    private readonly baseUrl: () => string,
  ) {
    if (secret.length < 32) throw new Error('the signing secret must be at least 32 characters');
  }

  sign(grant: SignedGrant): string {
    const path = `${SIGNED_PATH}/${encodeURIComponent(grant.store)}/${grant.key.split('/').map(encodeURIComponent).join('/')}`;
    const params = new URLSearchParams({ expires: String(grant.expires) });
    if (grant.download) params.set('download', '1');
    if (grant.filename !== undefined) params.set('filename', grant.filename);
    params.set('signature', this.mac(grant));
    return `${this.baseUrl()}${path}?${params.toString()}`;
  }

  /** Checks a presented URL's grant; tampered or expired → `signature_invalid` (403). */
  verify(grant: SignedGrant, signature: string | undefined, nowSeconds = Math.floor(Date.now() / 1000)): void {
    const expected = Buffer.from(this.mac(grant), 'hex');
    const given = /^[0-9a-f]{64}$/.test(signature ?? '') ? Buffer.from(signature ?? '', 'hex') : Buffer.alloc(expected.length);
    const match = timingSafeEqual(expected, given) && signature !== undefined;
    if (!match) throw new BlobgateError('signature_invalid', 'The signed URL is not valid (it was altered, or signed by another key). Ask for a new one.');
    if (!Number.isSafeInteger(grant.expires) || grant.expires < nowSeconds) {
      throw new BlobgateError('signature_invalid', 'The signed URL has expired. Ask for a new one.');
    }
  }

  private mac(g: SignedGrant): string {
    const canonical = ['blobgate-signed-url-v1', g.store, g.key, String(g.expires), g.download ? '1' : '0', g.filename ?? ''].join('\n');
    return createHmac('sha256', this.secret).update(canonical, 'utf8').digest('hex');
  }
}
