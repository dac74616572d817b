import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

/**
 * Credentials in config are references, never values: `env:NAME` reads an
 * environment variable, `file:PATH` a file (e.g. a mounted Kubernetes or
 * Docker secret). API tokens and the signing secret are resolved when the
 * config is loaded (tokens are kept only as digests); store credentials are
 * resolved by the registry when it builds a client, so their values never
 * land in the frozen config.
 *
 * No message here ever holds a credential value: a value written where a
 * reference belongs is reported as "not a reference", without repeating it.
 */
export type SecretRef = { kind: 'env'; name: string } | { kind: 'file'; path: string };

/** Thrown when a reference cannot be resolved; the message names the reference, never a value. */
export class SecretRefError extends Error {
  override readonly name = 'SecretRefError';
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The reference `value` spells, or undefined when it is not one (then it is a literal value). */
export function parseSecretRef(value: string): SecretRef | undefined {
  if (value.startsWith('env:')) return { kind: 'env', name: value.slice(4) };
  if (value.startsWith('file:')) return { kind: 'file', path: value.slice(5) };
  return undefined;
}

/** A problem with the form of a reference (not whether it resolves), or undefined when it is well formed. */
export function secretRefProblem(value: string): string | undefined {
  const ref = parseSecretRef(value);
  if (ref === undefined) return 'must be a reference, "env:NAME" or "file:PATH"; a credential value is never written in the config (the value given is not repeated here)';
  if (ref.kind === 'env' && !ENV_NAME.test(ref.name)) return 'an "env:" reference must name an environment variable (letters, digits and "_")';
  if (ref.kind === 'file' && ref.path === '') return 'a "file:" reference must name a file';
  return undefined;
}

/** `file:` paths are read relative to `cwd`; the result is the same reference with an absolute path. */
export function absoluteRef(value: string, cwd: string): string {
  const ref = parseSecretRef(value);
  return ref?.kind === 'file' && ref.path !== '' ? `file:${resolve(cwd, ref.path)}` : value;
}

/** Resolves a reference now (config load). Throws SecretRefError naming the reference. */
export function resolveSecretRefSync(value: string, env: NodeJS.ProcessEnv, cwd: string): string {
  const ref = checked(value);
  if (ref.kind === 'env') return fromEnv(ref.name, env);
  let text: string;
  try {
    text = readFileSync(resolve(cwd, ref.path), 'utf8');
  } catch (err) {
    throw unreadable(ref.path, err);
  }
  return nonEmptyFile(ref.path, text);
}

/** Resolves a store credential reference (the registry, when it builds a client). Throws SecretRefError. */
export async function resolveConfigSecret(value: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const ref = checked(value);
  if (ref.kind === 'env') return fromEnv(ref.name, env);
  let text: string;
  try {
    text = await readFile(ref.path, 'utf8');
  } catch (err) {
    throw unreadable(ref.path, err);
  }
  return nonEmptyFile(ref.path, text);
}

function checked(value: string): SecretRef {
  const problem = secretRefProblem(value);
  if (problem !== undefined) throw new SecretRefError(`config credential: ${problem}`);
  return parseSecretRef(value)!;
}

function fromEnv(name: string, env: NodeJS.ProcessEnv): string {
  const v = env[name];
  if (v === undefined || v === '') throw new SecretRefError(`config secret reference env:${name}: environment variable ${name} is not set`);
  return v;
}

function unreadable(path: string, err: unknown): SecretRefError {
  return new SecretRefError(`config secret reference file:${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
}

function nonEmptyFile(path: string, text: string): string {
  const value = text.trim();
  if (value === '') throw new SecretRefError(`config secret reference file:${path}: the file is empty`);
  return value;
}
