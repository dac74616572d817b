import { InvalidArgumentError, type Command } from 'commander';
import { ApiClient, resolveEndpoint } from '../client.js';
import { CliError } from '../output.js';

/** The API client for a command, from --url/--token or BLOBGATE_URL/BLOBGATE_TOKEN. */
export function clientFor(cmd: Command): ApiClient {
  const { url, token } = cmd.optsWithGlobals<{ url?: string; token?: string }>();
  return new ApiClient(resolveEndpoint({ ...(url !== undefined ? { url } : {}), ...(token !== undefined ? { token } : {}) }));
}

/** Path segment for the API (workspace ids, file names). */
export const seg = encodeURIComponent;

/** commander parser for positive integer option values (a bad value is a usage error, exit 2). */
export function positiveInt(value: string): number {
  if (!/^[1-9][0-9]*$/.test(value)) throw new InvalidArgumentError('must be a positive integer.');
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('is too large.');
  return n;
}

/** The last path segment of a res:// URI, decoded: the default file name of `get`. */
export function fileNameOf(uri: string): string {
  const last = uri.split(/[?#]/)[0]!.split('/').at(-1) ?? '';
  let name: string;
  try {
    name = decodeURIComponent(last);
  } catch {
    name = '';
  }
  if (name === '' || name === '.' || name === '..' || /[/\\\u0000-\u001f\u007f]/.test(name)) {
    throw new CliError('invalid_request', `cannot derive a file name from ${JSON.stringify(uri)}; give one with -o <file>.`, undefined, 2);
  }
  return name;
}

/** Drops undefined values (the API refuses nulls and unknown fields). */
export function defined<T extends Record<string, unknown>>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** commander parser for a port-like integer that may be 0. */
export function positiveIntOrZero(value: string): number {
  return value === '0' ? 0 : positiveInt(value);
}
