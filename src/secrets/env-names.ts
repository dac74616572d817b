/**
 * Environment variable names of the embedded secrets provider:
 * `BLOBGATE_SECRET__<WORKSPACE>__<REF>` holds the value and
 * `BLOBGATE_SECRET_HOSTS__<WORKSPACE>__<REF>` its destinations.
 *
 * The mapping from (workspace, ref) to a name must be injective, or one
 * workspace reads another's secret. Portable variable names are upper-case
 * letters, digits and `_` (POSIX.1-2017 §8.1), so any spelling folds case and
 * punctuation. Rather than an escape scheme (`_2E` for `.`, a marker for
 * upper case), which would rename every existing variable and be unreadable,
 * the environment serves only names in one class where the plain spelling is
 * already injective: lower-case letters and digits, single hyphens between.
 * Upper-casing is then one-to-one, `-` becomes `_` (which the class lacks),
 * and since no encoded name holds `__` or starts or ends with `_`, the `__`
 * between workspace and ref splits one way only. Every other name (`ws.b`,
 * `ws_b`, `WS-B`, `a--b`) has no variable and is looked up in the secrets file
 * only, by its exact spelling.
 */
const ENV_SAFE = /^[a-z0-9]+(-[a-z0-9]+)*$/;

export const ENV_SECRET_PREFIX = 'BLOBGATE_SECRET__';
export const ENV_HOSTS_PREFIX = 'BLOBGATE_SECRET_HOSTS__';

/** Whether `name` (a workspace id or secret ref) has an environment spelling. */
export function hasEnvSpelling(name: string): boolean {
  return ENV_SAFE.test(name);
}

/** The variable of (workspace, ref) under `prefix`, or undefined when either name has no environment spelling. */
export function envName(workspace: string, ref: string, prefix = ENV_SECRET_PREFIX): string | undefined {
  if (!hasEnvSpelling(workspace) || !hasEnvSpelling(ref)) return undefined;
  const spell = (s: string) => s.toUpperCase().replace(/-/g, '_');
  return `${prefix}${spell(workspace)}__${spell(ref)}`;
}
