import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';
import type { LocalSigner } from '../signing/local-signer.js';
import { headLive, type Located } from './locate.js';

export interface SignRequest {
  ttlSeconds?: number;
  download?: boolean;
  filename?: string;
}

export interface SignedUrl {
  url: string;
  expiresAt: string;
}

/**
 * A URL for a live resource: the store's own signature when the driver signs,
 * else one blobgate signs and serves itself. The lifetime is the asked TTL
 * (signing.default-ttl-seconds when none), refused outside the configured
 * bounds, and clamped so a URL never outlives the blob it points at.
 */
export async function signResource(deps: { signing: Config['signing']; signer: LocalSigner }, located: Located, req: SignRequest): Promise<SignedUrl> {
  const { signing } = deps;
  const ttl = req.ttlSeconds ?? signing.defaultTtlSeconds;
  if (ttl < signing.minTtlSeconds || ttl > signing.maxTtlSeconds) {
    throw new BlobgateError('invalid_request', `ttl-seconds must be from ${signing.minTtlSeconds} to ${signing.maxTtlSeconds}; got ${ttl}.`, { field: 'ttl-seconds' });
  }
  const { filename } = req;
  if (filename !== undefined && /[\u0000-\u001f\u007f/\\]/.test(filename)) {
    throw new BlobgateError('invalid_request', 'filename may not contain "/", "\\" or control characters.', { field: 'filename' });
  }
  const obj = await headLive(located);
  let expiresMs = Date.now() + ttl * 1000;
  if (obj.meta.expiresAt) expiresMs = Math.min(expiresMs, Date.parse(obj.meta.expiresAt));
  const expiresInSeconds = Math.max(1, Math.floor((expiresMs - Date.now()) / 1000));
  const download = req.download ?? false;
  const named = filename ? { filename } : {};
  const url = located.driver.signUrl
    ? await located.driver.signUrl({ key: located.loc.key, expiresInSeconds, download, ...named })
    : deps.signer.sign({ store: located.loc.store, key: located.loc.key, expires: Math.floor(Date.now() / 1000) + expiresInSeconds, download, ...named });
  return { url, expiresAt: new Date(Date.now() + expiresInSeconds * 1000).toISOString() };
}
