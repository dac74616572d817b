#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerCompletion } from './commands/completion.js';
import { registerConfig } from './commands/config.js';
import { registerFetch } from './commands/fetch.js';
import { registerGet } from './commands/get.js';
import { registerHead } from './commands/head.js';
import { registerJobs } from './commands/jobs.js';
import { registerLs } from './commands/ls.js';
import { registerPut } from './commands/put.js';
import { registerRm } from './commands/rm.js';
import { registerServe } from './commands/serve.js';
import { registerUrl } from './commands/url.js';
import { DEFAULT_URL } from './client.js';
import { reportError } from './output.js';

/**
 * `blobgate`: a command-line client of the HTTP API (plus `serve`, which runs
 * the gateway). Exit codes: 0 success, 1 a failed call (`error: <code>:
 * <message>` on stderr), 2 a usage error.
 */
export function buildProgram(): Command {
  const program = new Command('blobgate')
    .description('blobgate: a streaming blob persistence gateway, and a client of its HTTP API')
    .version(packageVersion(), '-V, --version')
    .option('--url <url>', `gateway base URL (env BLOBGATE_URL, default ${DEFAULT_URL})`)
    .option('--token <token>', 'API bearer token (env BLOBGATE_TOKEN)')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerServe(program);
  registerFetch(program);
  registerPut(program);
  registerLs(program);
  registerHead(program);
  registerGet(program);
  registerUrl(program);
  registerRm(program);
  registerJobs(program);
  registerConfig(program);
  registerCompletion(program);
  return program;
}

/**
 * `smoke` (src/smoke/command.ts) loads the storage drivers, about a second of
 * startup: it is registered only when it is the command asked for; otherwise a
 * stub keeps it listed in `blobgate --help`.
 */
async function addSmoke(program: Command, args: string[]): Promise<void> {
  const name = commandName(args);
  if (name === 'smoke' || name === 'completion' || (name === 'help' && args.includes('smoke'))) {
    const { registerSmoke } = await import('../smoke/command.js');
    registerSmoke(program);
  } else {
    program.command('smoke').description('check the configured stores end to end (blobgate smoke --help)');
  }
}

/** The first argument that is not an option (nor the value of --url/--token). */
function commandName(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--url' || arg === '--token') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export async function run(argv: string[] = process.argv): Promise<void> {
  try {
    const program = buildProgram();
    await addSmoke(program, argv.slice(2));
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; every other parser complaint (already printed) is a usage error.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    reportError(err);
  }
}

await run();
