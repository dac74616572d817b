import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { SmokeReport } from '../../src/smoke/run.js';
import { runCli, runCliInPty } from './_cli.js';

// `blobgate smoke` as a user runs it: `--json` is one line when piped and
// indented on a terminal (as every JSON the CLI prints), and a store nobody
// answers for is one row with the cause, while the other store runs every
// check.

/** A port on 127.0.0.1 nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

t.test('smoke --json: one compact line when piped, indented on a terminal', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-smoke-json-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ stores: { a: { driver: 'local', root: join(dir, 'a') } }, tiers: { retained: { store: 'a' }, ephemeral: { store: 'a' } } }));
  const env = { BLOBGATE_CONFIG: config, BLOBGATE_DATA_DIR: join(dir, 'data') };

  const piped = await runCli(['smoke', '--json'], { env, timeoutMs: 120_000 });
  t.equal(piped.code, 0, piped.stderr);
  const text = piped.stdout.toString();
  t.equal(text.split('\n').length, 2, 'one line, then the newline');
  const report = JSON.parse(text) as SmokeReport;
  t.same({ passed: report.passed, failed: report.failed }, { passed: 11, failed: 0 });

  const tty = await runCliInPty(['smoke', '--json'], { env, timeoutMs: 120_000 });
  t.equal(tty.code, 0, 'exit 0');
  const lines = tty.output.replace(/\r/g, '').split('\n');
  t.ok(lines.includes('{') && lines.includes('  "stores": ['), 'indented JSON on a terminal');
  const json = lines.slice(lines.indexOf('{'), lines.lastIndexOf('}') + 1).join('\n');
  t.same((JSON.parse(json) as SmokeReport).passed, 11, 'the same report');
});

t.test('smoke with an unreachable store: one row with the cause, the other store checked in full, exit 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-smoke-unreach-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const port = await closedPort();
  const config = join(dir, 'config.json');
  await writeFile(
    config,
    JSON.stringify({
      stores: {
        's3-main': { driver: 's3', bucket: 'b', region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, 'force-path-style': true, credentials: { 'access-key-id': 'env:BG_T_KEY', 'secret-access-key': 'env:BG_T_SECRET' } },
        disk: { driver: 'local', root: join(dir, 'disk') },
      },
      tiers: { retained: { store: 'disk' }, ephemeral: { store: 'disk' } },
    }),
  );
  const res = await runCli(['smoke'], { env: { BLOBGATE_CONFIG: config, BLOBGATE_DATA_DIR: join(dir, 'data'), BG_T_KEY: 'AKIDTEST', BG_T_SECRET: 'secret' }, timeoutMs: 120_000 });
  t.equal(res.code, 1, 'a failed store fails the run');
  const lines = res.stdout.toString().trimEnd().split('\n');
  const s3Rows = lines.filter((l) => l.startsWith('s3-main '));
  t.equal(s3Rows.length, 1, 'one row for the unreachable store');
  t.match(s3Rows[0], new RegExp(`^s3-main \\(s3\\)\\s+ping\\s+FAIL\\s+\\d+\\s+unreachable — connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`));
  t.equal(lines.filter((l) => /^disk \(local\)\s+\S.*\sPASS\s/.test(l)).length, 11, 'the reachable store runs and passes every check');
  t.equal(lines.at(-1), 'smoke: 11 passed, 1 failed');
});
