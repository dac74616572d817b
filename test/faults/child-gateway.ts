// The real gateway (src/main.ts, compiled once per content: test/helpers/built-src.ts) as a child process with the node flags
// `npm start` gives it, for tests that kill it.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { GATEWAY_NODE_FLAGS, gatewayEnv } from '../../src/node-flags.js';
import { builtGateway } from '../helpers/built-src.js';
import { TOKEN_ALL } from '../helpers/gateway.js';

const root = new URL('../..', import.meta.url).pathname;

export interface ChildGateway {
  url: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** JSON call with the all-workspaces test token. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<number | null>;
}

/** A free loopback port (main.ts listens on the configured port; it prints no address when a token is configured). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Starts src/main.ts with `config` (tokens and the loopback upstream allowance added) and waits until /healthz answers. */
export async function startChildGateway(dir: string, config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<ChildGateway> {
  const port = await freePort();
  const configPath = join(dir, `config-${port}.json`);
  await writeFile(configPath, JSON.stringify({ tokens: [{ token: TOKEN_ALL, workspaces: ['ws-1', 'ws-2'] }], upstream: { allow: ['127.0.0.1'] }, ...config }));
  const child: ChildProcess = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, builtGateway], {
    cwd: root,
    env: gatewayEnv({ PATH: process.env.PATH, BLOBGATE_CONFIG: configPath, BLOBGATE_DATA_DIR: join(dir, 'data'), BLOBGATE_PORT: String(port), BLOBGATE_LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited at start:\n${out}`);
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
    if (Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`the gateway did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    output: () => out,
    call: async (method, path, body) => {
      const res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${TOKEN_ALL}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      let json: unknown = text;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: res.status, json };
    },
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    exited,
  };
}
