import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { GATEWAY_ENV, GATEWAY_NODE_FLAGS } from '../../src/node-flags.js';
import { baseEnv, cliArgv, cliTsxArgv, root, runCli } from './_cli.js';

interface Served {
  child: ChildProcess;
  base: string;
  output: () => string;
  exit: Promise<number | null>;
}

/** `blobgate serve` on port 0; resolves once the gateway says where it listens. */
async function serve(args: string[], env: Record<string, string> = {}, cli = cliArgv): Promise<Served> {
  const child = spawn(process.execPath, [...cli, 'serve', '--port', '0', ...args], { cwd: root, env: baseEnv({ BLOBGATE_LOG_LEVEL: 'warn', ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let exited = false;
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => ((exited = true), r(code))));
  let base: string | undefined;
  // Until the gateway says where it listens or the CLI ends; bounded for a loaded machine, not for speed.
  for (const end = Date.now() + 60_000; !base && !exited && Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 50));
    // the welcome text (dev token), else fastify's info log line
    base = /(?:listening on|Server listening at) (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
  }
  if (!base) {
    child.kill('SIGTERM');
    throw new Error(`serve did not start:\n${out}`);
  }
  return { child, base, output: () => out, exit };
}

t.test('serve runs the gateway (dev token) and stops it gracefully on SIGINT', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'bg-cli-serve-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const s = await serve(['--data-dir', dataDir]);
  t.teardown(() => s.child.kill('SIGTERM'));
  const token = (await readFile(join(dataDir, 'dev-token'), 'utf8')).trim();
  t.ok(s.output().includes(token), 'prints the dev token like npm start');
  // The gateway is the CLI's one child (Linux /proc), started with npm start's node flags.
  const [gatewayPid] = (await readFile(`/proc/${s.child.pid}/task/${s.child.pid}/children`, 'utf8')).trim().split(/\s+/);
  const gatewayArgv = (await readFile(`/proc/${gatewayPid}/cmdline`, 'utf8')).split('\0');
  t.same(gatewayArgv.slice(1, 1 + GATEWAY_NODE_FLAGS.length), GATEWAY_NODE_FLAGS, `the gateway's command line: ${gatewayArgv.join(' ')}`);
  const gatewayEnviron = (await readFile(`/proc/${gatewayPid}/environ`, 'utf8')).split('\0');
  for (const [k, v] of Object.entries(GATEWAY_ENV)) t.ok(gatewayEnviron.includes(`${k}=${v}`), `the gateway's environment has ${k}=${v}`);
  t.equal((await fetch(`${s.base}/healthz`)).status, 200);
  const ls = await runCli(['ls', 'ws-demo'], { env: { BLOBGATE_URL: s.base, BLOBGATE_TOKEN: token } });
  t.equal(ls.code, 0, ls.stderr);
  t.match(ls.stdout.toString(), /^URI\s+SIZE/);

  s.child.kill('SIGINT');
  t.equal(await s.exit, 0, 'the CLI exits with the gateway\'s code');
  await t.rejects(fetch(`${s.base}/healthz`), 'the gateway is gone');
});

t.test('serve --token: the given token is the gateway\'s (BLOBGATE_TOKEN); SIGTERM stops it', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'bg-cli-serve-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const token = 'cli-serve-token-0123456789';
  // Through tsx, as `npm run cli serve` runs it: the gateway child is then src/main.ts under tsx (serve.ts gatewayEntry).
  const s = await serve(['--data-dir', dataDir, '--host', '127.0.0.1', '--token', token], { BLOBGATE_LOG_LEVEL: 'info' }, cliTsxArgv);
  t.teardown(() => s.child.kill('SIGTERM'));
  t.notMatch(s.output(), /dev API token/, 'no dev token when one is given');
  const ok = await runCli(['ls', 'ws-x', '-q'], { env: { BLOBGATE_URL: s.base, BLOBGATE_TOKEN: token } });
  t.equal(ok.code, 0, ok.stderr);
  t.equal(ok.stdout.length, 0);
  const bad = await runCli(['ls', 'ws-x'], { env: { BLOBGATE_URL: s.base, BLOBGATE_TOKEN: 'other' } });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^error: unauthorized: /);
  s.child.kill('SIGTERM');
  t.equal(await s.exit, 0);
  await t.rejects(fetch(`${s.base}/healthz`));
});

t.test('serve with an invalid configuration exits with the gateway\'s code (2)', async (t) => {
  const res = await runCli(['serve'], { env: { BLOBGATE_PORT: 'nope' } });
  t.equal(res.code, 2);
  t.match(res.stderr, /BLOBGATE_PORT: must be an integer/);
});
