import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { GATEWAY_NODE_FLAGS, gatewayEnv } from '../src/node-flags.js';

const root = new URL('..', import.meta.url).pathname;

/** Starts `src/main.ts` the way `npm start` runs dist/main.js (its node flags and environment too), with no config, on port 0. */
async function startMain(dataDir: string): Promise<{ output: () => string; exit: Promise<number | null>; kill: (sig: NodeJS.Signals) => void }> {
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, '--import', 'tsx', join(root, 'src/main.ts')], {
    cwd: root,
    env: gatewayEnv({ PATH: process.env.PATH, BLOBGATE_DATA_DIR: dataDir, BLOBGATE_PORT: '0', BLOBGATE_LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 300 && !/Try it/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  return { output: () => out, exit, kill: (sig) => child.kill(sig) };
}

t.test('with no configuration, main prints a dev token and a curl example, serves, and exits 0 on SIGTERM', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'bg-main-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const main = await startMain(dataDir);
  const out = main.output();
  const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
  t.ok(base, `prints where it listens:\n${out}`);
  const token = (await readFile(join(dataDir, 'dev-token'), 'utf8')).trim();
  t.match(token, /^[A-Za-z0-9_-]{40,}$/);
  t.equal((await stat(join(dataDir, 'dev-token'))).mode & 0o777, 0o600, 'the token file is private');
  t.ok(out.includes(token), 'the token is printed');
  t.match(out, new RegExp(`curl -s -X POST ${base}/v1/workspaces/ws-demo/http`));
  t.match(out, /retained \(local\), ephemeral \(local\)/);
  const health = await fetch(`${base}/healthz`);
  t.equal(health.status, 200);
  const list = await fetch(`${base}/v1/workspaces/ws-demo/resources`, { headers: { authorization: `Bearer ${token}` } });
  t.equal(list.status, 200, 'the printed token works');
  t.same(await list.json(), { items: [] });
  main.kill('SIGTERM');
  t.equal(await main.exit, 0);

  // A second start keeps the same token (it lives in the data dir).
  const again = await startMain(dataDir);
  t.ok(again.output().includes(token), 'the dev token survives a restart');
  again.kill('SIGINT');
  t.equal(await again.exit, 0);
});

t.test('an invalid configuration exits 2 and lists every problem', async (t) => {
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, '--import', 'tsx', join(root, 'src/main.ts')], {
    cwd: root,
    env: gatewayEnv({ PATH: process.env.PATH, BLOBGATE_PORT: 'nope', BLOBGATE_SIGNING_SECRET: 'short' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  t.equal(code, 2);
  t.match(err, /BLOBGATE_PORT: must be an integer/);
  t.match(err, /at least 32 characters/);
  t.notMatch(err, /\n\s+at /, 'no stack trace');
});
