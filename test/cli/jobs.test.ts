// The CLI over the job API: fetch --detach, jobs get/ls/watch/cancel, and fetch interrupted by SIGINT cancels the job.
import { spawn } from 'node:child_process';
import t from 'tap';
import { patternSha256 } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';
import { startGatedUpstream } from '../faults/gated-upstream.js';
import { baseEnv, cliArgv, root, runCli } from './_cli.js';

const SIZE = 2 * 1024 * 1024;

t.test('jobs from the CLI', async (t) => {
  const gw = await startGateway({ jobs: { 'heartbeat-seconds': 0.1, 'lost-after-seconds': 3 } });
  const up = await startGatedUpstream();
  t.teardown(async () => {
    await gw.close();
    await up.stop();
  });
  const env = { BLOBGATE_URL: gw.url, BLOBGATE_TOKEN: TOKEN_ALL };

  const detached = await runCli(['fetch', `${up.url}/gated/cli-1/${SIZE}?hold=1024`, '-w', 'ws-1', '--detach'], { env });
  t.equal(detached.code, 0, detached.stderr);
  const job = JSON.parse(detached.stdout.toString());
  t.match(job, { id: /^job_/, state: /queued|running/ });
  up.release('cli-1');
  const watched = await runCli(['jobs', 'watch', job.id, '-w', 'ws-1'], { env });
  t.equal(watched.code, 0, watched.stderr);
  const final = JSON.parse(watched.stdout.toString());
  t.equal(final.state, 'succeeded');
  t.equal(final.result['blob-ref'].sha256, patternSha256(SIZE));
  const got = await runCli(['jobs', 'get', job.id, '-w', 'ws-1'], { env });
  t.same(JSON.parse(got.stdout.toString()), final);
  const listed = await runCli(['jobs', 'ls', '-w', 'ws-1', '--state', 'succeeded'], { env });
  t.ok(JSON.parse(listed.stdout.toString()).items.some((j: { id: string }) => j.id === job.id));
  const missing = await runCli(['jobs', 'get', 'job_000000000000000000000000', '-w', 'ws-1'], { env });
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^error: not_found: /);

  // fetch waits for the job and prints the resource ref, as the synchronous call did.
  up.release('cli-2');
  const fetched = await runCli(['fetch', `${up.url}/gated/cli-2/${SIZE}`, '-w', 'ws-1'], { env });
  t.equal(fetched.code, 0, fetched.stderr);
  t.match(JSON.parse(fetched.stdout.toString()), { type: 'resource-ref', 'blob-ref': { size: SIZE } });

  // Interrupted without a terminal: the job is cancelled on the gateway.
  const child = spawn(process.execPath, [...cliArgv, 'fetch', `${up.url}/gated/cli-3/${SIZE}?hold=1024`, '-w', 'ws-1'], { cwd: root, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  await up.held('cli-3');
  await until('the job runs', async () => (await gw.call('GET', '/v1/workspaces/ws-1/jobs?state=running')).json.items.length > 0);
  child.kill('SIGINT');
  t.equal(await exited, 130, err);
  t.match(err, /cancelled job job_/);
  t.equal(JSON.parse(out).state, 'cancelled');
  up.release('cli-3');

  const cancelAgain = await runCli(['jobs', 'cancel', JSON.parse(out).id, '-w', 'ws-1'], { env });
  t.equal(cancelAgain.code, 0);
  t.equal(JSON.parse(cancelAgain.stdout.toString()).state, 'cancelled');
});
