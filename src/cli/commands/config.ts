import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../../config/load.js';
import { isLoopbackHost } from '../../config/listen.js';
import { resolveSecretRefSync, secretRefProblem } from '../../config/secret-ref.js';
import type { Config } from '../../config/types.js';
import { describeStore, storeCredentialRefs } from '../../storage/registry.js';
import { printJson } from '../output.js';

interface CheckOptions {
  file?: string;
  json?: boolean;
  connect?: boolean;
}

/**
 * `blobgate config check [--file <path>]`: validates the configuration the
 * gateway would start with (the file, then BLOBGATE_* variables over it)
 * without opening a store or a port. Every problem is printed with its key
 * path; credentials are references and no value is ever printed.
 * Exit 0 valid, 2 invalid (as the gateway itself exits on a bad configuration).
 * `--connect` then probes every store (src/cli/connect-check.ts): exit 1
 * when any store cannot be opened, reached, written, read or deleted.
 */
export function registerConfig(program: Command): void {
  const config = program.command('config').description('work with the gateway configuration (blobgate config check --help)');
  config
    .command('check')
    .description('validate the configuration completely, without starting anything (exit 0 valid, 2 invalid)')
    .option('--file <path>', 'JSON config file (default: BLOBGATE_CONFIG; BLOBGATE_* variables apply as at start)')
    .option('--json', 'print {valid, problems} as JSON (with --connect also stores: one probe per store)')
    .option('--connect', 'also open each store: reachable, bucket present, a probe object written, read and deleted (exit 1 when any store fails)')
    .action(async (opts: CheckOptions) => {
      const env: NodeJS.ProcessEnv = { ...process.env, ...(opts.file !== undefined ? { BLOBGATE_CONFIG: opts.file } : {}) };
      const { problems, config } = check(env);
      if (problems.length > 0 || !config) {
        if (opts.json) printJson({ valid: false, problems });
        else process.stderr.write(`configuration is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}\n`).join('')}`);
        process.exitCode = 2;
        return;
      }
      // Loaded only here: probing opens the stores, and with them the SDKs.
      const probes = opts.connect ? await (await import('../connect-check.js')).probeStores(config) : undefined;
      if (opts.json) printJson({ valid: true, problems, ...(probes ? { stores: probes } : {}) });
      else {
        process.stdout.write(summary(config, env.BLOBGATE_CONFIG));
        if (probes) process.stdout.write(`stores, connected:\n${(await import('../connect-check.js')).formatProbes(probes)}\n`);
      }
      if (probes?.some((p) => !p.ok)) process.exitCode = 1;
    });
}

/** The problems loadConfig collects, plus the start-up rules that look at the whole configuration (src/main.ts). */
export function check(env: NodeJS.ProcessEnv, cwd = process.cwd()): { problems: string[]; config?: Config } {
  let config: Config;
  const problems: string[] = [];
  try {
    config = loadConfig(env, cwd);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // The rest of the checks still run on what could be read, so every problem is reported at once.
    if (!err.partial) return { problems: err.problems };
    problems.push(...err.problems);
    config = err.partial;
  }
  if (config.tokens.length === 0 && !isLoopbackHost(config.host)) {
    problems.push(`host: listening on ${config.host} (not loopback) needs an API token: set BLOBGATE_TOKEN or "tokens"`);
  }
  problems.push(...credentialProblems(config, env, cwd));
  return problems.length > 0 ? { problems } : { problems, config };
}

/**
 * Store credentials are references the registry resolves when the gateway
 * starts; resolving them here finds an unset variable or unreadable file
 * before that. Messages name the reference, never the value.
 */
function credentialProblems(config: Config, env: NodeJS.ProcessEnv, cwd: string): string[] {
  const problems: string[] = [];
  const resolveAt = (where: string, ref: string | undefined): string | undefined => {
    // A reference of the wrong form is already one of loadConfig's problems.
    if (ref === undefined || secretRefProblem(ref) !== undefined) return undefined;
    try {
      return resolveSecretRefSync(ref, env, cwd);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
      return undefined;
    }
  };
  for (const [name, store] of Object.entries(config.stores)) {
    for (const { at, ref, check } of storeCredentialRefs(store)) {
      const where = `stores.${name}.${at}`;
      const value = resolveAt(where, ref);
      const problem = value === undefined ? undefined : check?.(value);
      if (problem !== undefined) problems.push(`${where}: ${problem}`);
    }
  }
  return problems;
}

function summary(config: Config, file: string | undefined): string {
  const stores = Object.entries(config.stores).map(([name, s]) => `${name} (${describeStore(s)})`);
  const tiers = (['retained', 'ephemeral'] as const).map((t) => `${t} → store ${config.tiers[t].store}`);
  return [
    `configuration is valid (${file ? `file ${file}` : 'no config file'}, BLOBGATE_* variables applied)`,
    `  listen: ${config.host}:${config.port}${config.publicUrl ? `, public URL ${config.publicUrl}` : ''}`,
    `  stores: ${stores.join(', ')}`,
    `  tiers: ${tiers.join(', ')}`,
    `  tokens: ${config.tokens.length === 0 ? 'none (a dev token is generated on loopback)' : config.tokens.length}`,
    '',
  ].join('\n');
}
