import { readFile } from 'node:fs/promises';
import { BlobgateError } from '../errors.js';

/**
 * Where secret references resolve. A reference resolves only inside the
 * calling workspace; an unknown one is `secret_not_found` naming the
 * reference, never a value. Values are handed to the upstream request builder
 * and nowhere else (not to logs, errors, resource metadata or responses).
 */
export interface SecretsProvider {
  /** Resolves `ref` within `workspace`; rejects `secret_not_found`. */
  resolve(workspace: string, ref: string): Promise<string>;
}

/**
 * The embedded provider: a JSON file `{"<workspace>": {"<secret-ref>": "<value>"}}`
 * (config `secrets.file` / BLOBGATE_SECRETS_FILE), read at each lookup so a
 * rotated secret is picked up without a restart, and environment variables
 * `BLOBGATE_SECRET__<WORKSPACE>__<REF>` (workspace and ref upper-cased, every
 * character outside A-Z and 0-9 turned into `_`), which win over the file.
 */
export class EmbeddedSecrets implements SecretsProvider {
  constructor(
    private readonly file: string | undefined,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  async resolve(workspace: string, ref: string): Promise<string> {
    const name = normalizeRef(ref);
    const fromEnv = this.env[envName(workspace, name)];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const fromFile = (await this.readFile())[workspace]?.[name];
    if (typeof fromFile === 'string' && fromFile !== '') return fromFile;
    throw new BlobgateError('secret_not_found', `The secret reference "${name}" does not exist in workspace "${workspace}".`, { 'secret-ref': name });
  }

  private async readFile(): Promise<Record<string, Record<string, unknown> | undefined>> {
    if (!this.file) return {};
    try {
      const parsed: unknown = JSON.parse(await readFile(this.file, 'utf8'));
      return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, Record<string, unknown>>) : {};
    } catch (err) {
      throw new BlobgateError('internal', 'The secrets file could not be read; the server log has the details.', undefined, { cause: err });
    }
  }
}

/** `:my-secret` (keyword form) and `my-secret` are the same reference. */
export function normalizeRef(ref: string): string {
  return ref.replace(/^:/, '');
}

export function envName(workspace: string, ref: string): string {
  const norm = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return `BLOBGATE_SECRET__${norm(workspace)}__${norm(ref)}`;
}
