import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { GATEWAY_NODE_FLAGS, gatewayEnv } from '../../node-flags.js';
import { positiveIntOrZero } from './common.js';

interface ServeOptions {
  host?: string;
  port?: number;
  config?: string;
  dataDir?: string;
}

/**
 * `blobgate serve`: runs the gateway (what `npm start` runs) as a child
 * process — dist/main.js when this CLI runs from dist, else src/main.ts
 * through tsx. The child gets its own process group so a terminal's Ctrl-C
 * reaches it once, forwarded by this process, and it shuts down gracefully.
 */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the gateway in the foreground (the server; configured by BLOBGATE_* variables, see the README)')
    .option('--host <host>', 'listen address (BLOBGATE_HOST, default 127.0.0.1)')
    .option('--port <port>', 'listen port (BLOBGATE_PORT, default 8787; 0 picks a free one)', positiveIntOrZero)
    .option('--config <file>', 'JSON config file (BLOBGATE_CONFIG)')
    .option('--data-dir <dir>', 'local data directory (BLOBGATE_DATA_DIR, default ./.blobgate)')
    .action(async (opts: ServeOptions, cmd: Command) => {
      const { token } = cmd.optsWithGlobals<{ token?: string }>();
      const env: NodeJS.ProcessEnv = { ...process.env };
      if (opts.host !== undefined) env.BLOBGATE_HOST = opts.host;
      if (opts.port !== undefined) env.BLOBGATE_PORT = String(opts.port);
      if (opts.config !== undefined) env.BLOBGATE_CONFIG = opts.config;
      if (opts.dataDir !== undefined) env.BLOBGATE_DATA_DIR = opts.dataDir;
      // --token is the token clients use; for the server it is the all-workspaces token (BLOBGATE_TOKEN).
      if (token !== undefined) env.BLOBGATE_TOKEN = token;
      process.exitCode = await runGateway(gatewayEntry(), gatewayEnv(env));
    });
}

/** node arguments that start the gateway from wherever this file runs, with the flags `npm start` gives it. */
export function gatewayEntry(moduleUrl: string = import.meta.url): string[] {
  if (moduleUrl.endsWith('.ts')) return [...GATEWAY_NODE_FLAGS, '--import', tsxLoader(), fileURLToPath(new URL('../../main.ts', moduleUrl))];
  return [...GATEWAY_NODE_FLAGS, fileURLToPath(new URL('../../main.js', moduleUrl))];
}

/** tsx as this process resolves it, so the child finds it whatever its cwd. */
function tsxLoader(): string {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return 'tsx';
  }
}

function runGateway(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal === 'SIGHUP' ? 'SIGTERM' : signal);
  };
  for (const s of signals) process.on(s, forward);
  // Should this process end first anyway, the gateway does not outlive it.
  const onExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.on('exit', onExit);
  return new Promise<number>((resolve) => {
    const done = (code: number): void => {
      for (const s of signals) process.off(s, forward);
      process.off('exit', onExit);
      resolve(code);
    };
    child.once('error', (err) => {
      process.stderr.write(`error: serve: cannot start the gateway: ${err.message}\n`);
      done(1);
    });
    child.once('exit', (code, signal) => done(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)));
  });
}
