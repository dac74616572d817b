import { createHash } from 'node:crypto';
import { parseListenAddress, type ListenAddress } from './listen.js';
import type { Reader } from './reader.js';
import { absoluteRef, parseSecretRef, resolveSecretRefSync, secretRefProblem } from './secret-ref.js';

/**
 * Credential fields of the config, read so that no message ever repeats a
 * value (problems name the field and the reference, see secret-ref.ts).
 */

/**
 * A credential blobgate checks itself (an API token, the signing secret, the
 * metrics token): a literal value, or an `env:`/`file:` reference resolved
 * now. `report` receives a problem without the value.
 */
export function resolveCredential(value: string | undefined, report: (message: string) => void, env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  if (value === undefined || parseSecretRef(value) === undefined) return value;
  try {
    return resolveSecretRefSync(value, env, cwd);
  } catch (err) {
    report((err as Error).message);
    return undefined;
  }
}

/**
 * A credential handed to a storage SDK (S3 keys, a GCS service-account key):
 * always a reference, checked for its form now and resolved by the registry
 * when it opens the store (an unset variable is then that store's failure,
 * which the smoke test reports as a row). `file:` paths are made absolute.
 */
export function storeCredential(r: Reader, key: string, cwd: string, required = false): string | undefined {
  const value = r.string(key, required);
  if (value === undefined) return undefined;
  const problem = secretRefProblem(value);
  if (problem !== undefined) {
    r.problem(key, problem);
    return undefined;
  }
  return absoluteRef(value, cwd);
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

export interface MetricsConfig {
  /** A listener of its own for GET /metrics; when set, the main listener does not serve /metrics. */
  listen?: ListenAddress;
  /** sha256 (hex) of the token /metrics requires (see README "Operating blobgate"). */
  tokenSha256?: string;
}

/** `metrics.listen` / BLOBGATE_METRICS_LISTEN and `metrics.token` / BLOBGATE_METRICS_TOKEN. */
export function readMetrics(r: Reader, env: NodeJS.ProcessEnv, cwd: string): MetricsConfig {
  const m = r.child('metrics');
  m.only(['listen', 'token']);
  const listenText = env.BLOBGATE_METRICS_LISTEN ?? m.string('listen');
  const listen = listenText === undefined ? undefined : parseListenAddress(listenText);
  if (listenText !== undefined && listen === undefined) {
    const where = env.BLOBGATE_METRICS_LISTEN === undefined ? 'metrics.listen' : 'BLOBGATE_METRICS_LISTEN';
    r.problem(where, `must be host:port, e.g. 127.0.0.1:9464 or [::1]:9464; got "${listenText}"`);
  }
  const fromEnv = env.BLOBGATE_METRICS_TOKEN !== undefined;
  const report = (msg: string): void => (fromEnv ? r.problem('BLOBGATE_METRICS_TOKEN', msg) : m.problem('token', msg));
  const token = resolveCredential(env.BLOBGATE_METRICS_TOKEN ?? m.string('token'), report, env, cwd);
  if (token !== undefined && token.length < 16) report('must be at least 16 characters');
  return { ...(listen ? { listen } : {}), ...(token !== undefined && token.length >= 16 ? { tokenSha256: sha256Hex(token) } : {}) };
}
