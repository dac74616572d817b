import { Storage, type StorageOptions } from '@google-cloud/storage';
import { nativeCrc32cGenerator } from './crc32c.js';

/** The fields of a Google service-account key file (JSON) that the client needs. */
export interface GcsServiceAccountKey {
  client_email: string;
  private_key: string;
  type?: string;
  project_id?: string;
  private_key_id?: string;
  universe_domain?: string;
}

/** Ready, validated options (the registry reads config; this module never does). */
export interface GcsClientOptions {
  /** Defaults to the key's project_id, else what Application Default Credentials say. */
  projectId?: string;
  /**
   * For tests and private endpoints, e.g. `http://127.0.0.1:4443`. The client
   * sends no credentials to an endpoint outside googleapis.com (the SDK's
   * `useAuthWithCustomEndpoint` default), and V4 signed URLs point at it.
   */
  apiEndpoint?: string;
  /** A parsed service-account key; when absent, Application Default Credentials are used. */
  credentials?: GcsServiceAccountKey;
}

export function buildGcsStorage(opts: GcsClientOptions): Storage {
  const projectId = opts.projectId ?? opts.credentials?.project_id;
  const options: StorageOptions = {
    crc32cGenerator: nativeCrc32cGenerator,
    ...(projectId === undefined ? {} : { projectId }),
    ...(opts.apiEndpoint === undefined ? {} : { apiEndpoint: opts.apiEndpoint }),
  };
  if (opts.credentials !== undefined) {
    const { client_email, private_key, universe_domain } = opts.credentials;
    options.credentials = { client_email, private_key, ...(universe_domain === undefined ? {} : { universe_domain }) };
  }
  return new Storage(options);
}

/**
 * Parses a service-account key file's text. Errors name what is wrong, never
 * the content (the text holds a private key).
 */
export function parseServiceAccountKey(text: string): GcsServiceAccountKey {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('The GCS credentials are not valid JSON; expected a service-account key file.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('The GCS credentials are not a JSON object; expected a service-account key file.');
  }
  const v = value as Record<string, unknown>;
  const missing = ['client_email', 'private_key'].filter((k) => typeof v[k] !== 'string' || v[k] === '');
  if (missing.length > 0) throw new Error(`The GCS service-account key lacks ${missing.join(' and ')}.`);
  const optional = (k: string): string | undefined => (typeof v[k] === 'string' ? v[k] : undefined);
  const key: GcsServiceAccountKey = { client_email: v.client_email as string, private_key: v.private_key as string };
  for (const k of ['type', 'project_id', 'private_key_id', 'universe_domain'] as const) {
    const s = optional(k);
    if (s !== undefined) key[k] = s;
  }
  return key;
}
