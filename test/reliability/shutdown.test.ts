import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startUpstream } from '../helpers/upstream.js';

const root = new URL('../..', import.meta.url).pathname;

t.test('SIGTERM: a transfer that finishes within the deadline succeeds, one that does not is aborted cleanly, exit 0', async (t) => {
  const up = await startUpstream();
  const dir = await mkdtemp(join(tmpdir(), 'bg-shutdown-'));
  t.teardown(async () => {
    await up.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const token = 'shutdown-test-token-000000';
  await writeFile(join(dir, 'config.json'), JSON.stringify({ port: 0, shutdown: { 'deadline-seconds': 1.5 }, upstream: { allow: ['127.0.0.1'] } }));
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts')], {
    cwd: root,
    env: { PATH: process.env.PATH, BLOBGATE_CONFIG: join(dir, 'config.json'), BLOBGATE_DATA_DIR: join(dir, 'data'), BLOBGATE_TOKEN: token, BLOBGATE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let base: string | undefined;
  for (let i = 0; i < 200 && !base; i++) {
    await new Promise((r) => setTimeout(r, 50));
    base = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(log)?.[1];
  }
  t.ok(base, 'the gateway started');
  const step = (url: string) =>
    fetch(`${base}/v1/workspaces/ws-1/http`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ 'flow-slug': 'f', 'step-id': 's', request: { url, timeout: 60 }, persist: { type: 'blob', tier: 'ephemeral' } }),
    }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
  const finishing = step(`${up.url}/bytes/1000000?delay-ms=700`);
  const stuck = step(`${up.url}/bytes/5000000?stall-after=1000000`);
  for (let i = 0; i < 100 && up.requests.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(up.requests.length, 2, 'both transfers are in flight');
  child.kill('SIGTERM');
  const [a, b] = await Promise.all([finishing, stuck]);
  t.equal(a.status, 200, 'finished within the deadline');
  t.equal(a.json['blob-ref'].size, 1000000);
  t.equal(b.status, 503);
  t.equal(b.json.error.code, 'aborted');
  t.match(b.json.error.message, /shutting down/);
  t.equal(await exit, 0, 'exit code 0');
  t.same(await readdir(join(dir, 'data', 'ephemeral', 'tmp')), [], 'no temp file left');
  const objects = await readdir(join(dir, 'data', 'ephemeral', 'objects'), { recursive: true, withFileTypes: true });
  t.equal(objects.filter((e) => e.isFile()).length, 1, 'only the finished object exists');
  t.match(log, /shutdown deadline reached/);
});
