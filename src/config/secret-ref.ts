import { readFile } from 'node:fs/promises';

/**
 * Credentials in config are references, never values: `env:NAME` reads an
 * environment variable, `file:PATH` a file (e.g. a mounted Kubernetes secret).
 * Resolved by the registry when it builds a client; the value never lands in
 * the frozen config or a log line.
 */
export async function resolveConfigSecret(ref: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const value = env[name];
    if (value === undefined || value === '') throw new Error(`config secret reference ${ref}: environment variable ${name} is not set`);
    return value;
  }
  if (ref.startsWith('file:')) {
    try {
      return (await readFile(ref.slice(5), 'utf8')).trim();
    } catch (err) {
      throw new Error(`config secret reference ${ref}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  }
  throw new Error(`config secret reference "${ref}" must start with env: or file:`);
}
