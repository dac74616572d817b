import type { Reader } from './reader.js';

/**
 * Checks of single config values that would otherwise fail only at start-up
 * (one per restart, in a library's words, without the key) or never.
 * src/config/load.ts calls them, so every problem is reported together.
 */

/** pino's levels (the logger refuses any other at start, without naming the key). */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function readLogLevel(r: Reader, env: NodeJS.ProcessEnv): string {
  const level = env.BLOBGATE_LOG_LEVEL ?? r.string('log-level') ?? 'info';
  if (!LOG_LEVELS.includes(level)) r.problem(env.BLOBGATE_LOG_LEVEL !== undefined ? 'BLOBGATE_LOG_LEVEL' : 'log-level', `must be one of ${LOG_LEVELS.join(', ')}; got "${level}"`);
  return level;
}

/** The base of the URLs blobgate signs itself: an absolute http(s) URL, else every local signed URL would be broken. */
export function checkPublicUrl(r: Reader, key: string, url: string): void {
  if (!/^https?:\/\/[^/]/i.test(url) || !URL.canParse(url)) r.problem(key, 'must be an absolute http(s) URL, e.g. https://blobs.example.com (the base of the URLs blobgate signs)');
}

/**
 * A store endpoint. The S3 SDK needs a scheme (`minio:9000` reads as scheme
 * "minio"); the GCS client adds https:// to a bare host.
 */
export function endpointUrl(s: Reader, key: string, schemeRequired: boolean): string | undefined {
  const value = s.string(key);
  if (value === undefined) return undefined;
  const full = schemeRequired || value.includes('://') ? value : `https://${value}`;
  if (!/^https?:\/\/[^/]/i.test(full) || !URL.canParse(full)) s.problem(key, `must be an absolute http(s) URL, e.g. ${schemeRequired ? 'http://127.0.0.1:9000' : 'https://storage.googleapis.com'}`);
  return value;
}
