// The real rclone binary for tests that drive the test servers with a Go client.
import { accessSync, constants, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** rclone's path on PATH, or undefined (.ci/run installs it; such tests fail rather than skip without it). */
export function findRclone(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir || '.', 'rclone');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/**
 * An environment for rclone with everything set through `vars` (RCLONE_CONFIG_<REMOTE>_…):
 * an empty config file and a cache in `dir`, none of the caller's RCLONE_ or AWS_
 * variables (AWS_CA_BUNDLE breaks rclone's plain-HTTP S3 client,
 * docs/testing.md#environment-variables-the-harness-ignores), and no proxy for loopback.
 */
export function rcloneEnv(dir: string, vars: Record<string, string>): NodeJS.ProcessEnv {
  const config = join(dir, 'rclone.conf');
  writeFileSync(config, '');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('RCLONE_') && !k.startsWith('AWS_') && !/^(https?|all|no)_proxy$/i.test(k)) env[k] = v;
  }
  return { ...env, RCLONE_CONFIG: config, RCLONE_CACHE_DIR: join(dir, 'cache'), NO_PROXY: '127.0.0.1,localhost', ...vars };
}
