import { readFile } from 'node:fs/promises';
import { BlobgateError } from '../errors.js';
import { parseDestination, type Destination } from './destinations.js';
import { ENV_HOSTS_PREFIX, envName, hasEnvSpelling } from './env-names.js';

/** A secret as resolved: its value and, when the operator bound it, where it may be sent. */
export interface ResolvedSecret {
  /** The reference, normalized (no leading ':'). */
  ref: string;
  value: string;
  /** The secret's own destinations (`hosts`); absent for a plain secret (README "Secrets and auth"). */
  hosts?: readonly Destination[];
}

/**
 * Where secret references resolve. A reference resolves only inside the
 * calling workspace; an unknown one is `secret_not_found` naming the
 * reference, never a value. Values are handed to the upstream request builder
 * and nowhere else (not to logs, errors, resource metadata or responses).
 */
export interface SecretsProvider {
  /** Resolves `ref` within `workspace`; rejects `secret_not_found`. */
  resolve(workspace: string, ref: string): Promise<ResolvedSecret>;
}

type FileEntry = string | { value?: unknown; hosts?: unknown };

/**
 * The embedded provider: a JSON file (config `secrets.file` /
 * BLOBGATE_SECRETS_FILE) `{"<workspace>": {"<ref>": "<value>" | {"value", "hosts"}}}`,
 * read at each lookup so a rotated secret is picked up without a restart, and
 * environment variables (src/secrets/env-names.ts), which win over the file.
 */
export class EmbeddedSecrets implements SecretsProvider {
  constructor(
    private readonly file: string | undefined,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  async resolve(workspace: string, ref: string): Promise<ResolvedSecret> {
    const name = normalizeRef(ref);
    const fromEnv = this.fromEnv(workspace, name);
    if (fromEnv) return fromEnv;
    const file = await this.readFile();
    const entry = own(own(file, workspace), name) as FileEntry | undefined;
    const fromFile = entry === undefined ? undefined : fileSecret(workspace, name, entry);
    if (fromFile) return fromFile;
    const hint = hasEnvSpelling(workspace) && hasEnvSpelling(name) ? '' : ' Environment secrets exist only for workspace and reference names of lower-case letters, digits and single hyphens; this one must be in the secrets file.';
    throw new BlobgateError('secret_not_found', `The secret reference "${name}" does not exist in workspace "${workspace}".${hint}`, { 'secret-ref': name });
  }

  private fromEnv(workspace: string, name: string): ResolvedSecret | undefined {
    const valueVar = envName(workspace, name);
    const value = valueVar === undefined ? undefined : this.env[valueVar];
    if (value === undefined || value === '') return undefined;
    const hostsVar = envName(workspace, name, ENV_HOSTS_PREFIX) ?? '';
    const hosts = this.env[hostsVar];
    if (hosts === undefined || hosts.trim() === '') return { ref: name, value };
    return { ref: name, value, hosts: parseHosts(hosts.split(',').map((h) => h.trim()), hostsVar) };
  }

  private async readFile(): Promise<unknown> {
    if (!this.file) return {};
    try {
      return JSON.parse(await readFile(this.file, 'utf8'));
    } catch (err) {
      throw new BlobgateError('internal', 'The secrets file could not be read; the server log has the details.', undefined, { cause: err });
    }
  }
}

/** A file entry: a plain string, or {value, hosts?}. An empty value counts as absent. */
function fileSecret(workspace: string, name: string, entry: FileEntry): ResolvedSecret | undefined {
  if (typeof entry === 'string') return entry === '' ? undefined : { ref: name, value: entry };
  const where = `Secrets file entry ${JSON.stringify(workspace)}.${JSON.stringify(name)}`;
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw misconfigured(`${where} must be a string or {"value": "<secret>", "hosts": [...]}.`);
  const unknown = Object.keys(entry).find((k) => k !== 'value' && k !== 'hosts');
  if (unknown !== undefined) throw misconfigured(`${where} has an unknown key "${unknown}" (known: value, hosts).`);
  if (typeof entry.value !== 'string') throw misconfigured(`${where}: "value" must be a string.`);
  if (entry.value === '') return undefined;
  if (entry.hosts === undefined) return { ref: name, value: entry.value };
  if (!Array.isArray(entry.hosts) || entry.hosts.length === 0 || !entry.hosts.every((h): h is string => typeof h === 'string')) {
    throw misconfigured(`${where}: "hosts" must be a non-empty array of hosts or URL prefixes.`);
  }
  return { ref: name, value: entry.value, hosts: parseHosts(entry.hosts, `${where}: hosts`) };
}

function parseHosts(entries: readonly string[], where: string): Destination[] {
  return entries.map((h, i) => {
    const d = parseDestination(h);
    if (typeof d === 'string') throw misconfigured(`${where}[${i}] ${JSON.stringify(h)} ${d}.`);
    return d;
  });
}

/** The operator's mistake, not the caller's: named precisely, values never echoed. */
function misconfigured(message: string): BlobgateError {
  return new BlobgateError('internal', `${message} Fix the secrets configuration.`);
}

/** An own property only: a workspace named "constructor" must not find Object.prototype's. */
function own(obj: unknown, key: string): unknown {
  return obj !== null && typeof obj === 'object' && Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
}

/** `:my-secret` (keyword form) and `my-secret` are the same reference. */
export function normalizeRef(ref: string): string {
  return ref.replace(/^:/, '');
}
