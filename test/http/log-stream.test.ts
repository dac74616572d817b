// stdout of `npm start` is the JSON log stream and nothing else: the dev-token
// banner, text for the person at the terminal, goes to stderr, so a log
// shipper reading stdout gets one JSON object a line.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { until } from '../helpers/until.js';

const root = new URL('../..', import.meta.url).pathname;

t.test('the banner is on stderr; every stdout line is a JSON log record', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'bg-logstream-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts')], {
    cwd: root,
    env: { PATH: process.env.PATH, BLOBGATE_DATA_DIR: dataDir, BLOBGATE_PORT: '0', BLOBGATE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await until('the banner', () => /Try it/.test(err), 30_000);
  const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)?.[1];
  t.ok(base, 'the banner says where it listens');
  const token = (await readFile(join(dataDir, 'dev-token'), 'utf8')).trim();
  t.ok(err.includes(token), 'the banner carries the dev token');
  const res = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'log-stream-1' } });
  t.equal(res.status, 200);
  await until('the request line', () => out.includes('log-stream-1'));
  child.kill('SIGTERM');
  t.equal(await exit, 0);
  const lines = out.split('\n').filter((l) => l !== '');
  t.ok(lines.length >= 2, 'the log has lines');
  for (const line of lines) t.doesNotThrow(() => JSON.parse(line), `a JSON record: ${line.slice(0, 80)}`);
  t.notOk(out.includes(token), 'the dev token is not in the log stream');
  t.match(lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request'), { reqId: 'log-stream-1', route: '/healthz', status: 200 });
});
