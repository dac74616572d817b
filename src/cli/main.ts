#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerFetch } from './commands/fetch.js';
import { registerGet } from './commands/get.js';
import { registerHead } from './commands/head.js';
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
  return program;
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
    await buildProgram().parseAsync(argv);
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
