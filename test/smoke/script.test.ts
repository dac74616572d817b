import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import t from 'tap';
import { registerSmoke } from '../../src/smoke/command.js';
import type { SmokeReport } from '../../src/smoke/run.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

t.test('npm run smoke (scripts/smoke.ts): every store of the test servers passes, exit 0', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/smoke.ts'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.equal(code, 0, err);
  const lines = out.trimEnd().split('\n');
  t.match(lines[0], /^store\s+check\s+result\s+ms\s+detail$/);
  for (const store of ['local \\(local\\)', 's3 \\(s3\\)', 'gcs \\(gcs\\)']) {
    t.equal(lines.filter((l) => new RegExp(`^${store}\\s+\\S.*\\sPASS\\s`).test(l)).length, 11, `${store}: 11 PASS rows`);
  }
  t.equal(lines.at(-1), 'smoke: 33 passed, 0 failed');
});

t.test('the CLI hook: registerSmoke adds `smoke [--store NAME]... [--all] [--json]`', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-smoke-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify({ stores: { a: { driver: 'local', root: join(dir, 'a') }, b: { driver: 'local', root: join(dir, 'b') } }, tiers: { retained: { store: 'a' }, ephemeral: { store: 'a' } } }));
  const saved = { config: process.env.BLOBGATE_CONFIG, dataDir: process.env.BLOBGATE_DATA_DIR, write: process.stdout.write, exitCode: process.exitCode };
  process.env.BLOBGATE_CONFIG = configFile;
  process.env.BLOBGATE_DATA_DIR = join(dir, 'data');
  let out = '';
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
  let exitCode: typeof process.exitCode;
  try {
    const program = new Command('blobgate').exitOverride();
    registerSmoke(program);
    await program.parseAsync(['smoke', '--store', 'b', '--store', 'a', '--json'], { from: 'user' });
    exitCode = process.exitCode;
  } finally {
    process.stdout.write = saved.write;
    process.exitCode = saved.exitCode;
    for (const [k, v] of [['BLOBGATE_CONFIG', saved.config], ['BLOBGATE_DATA_DIR', saved.dataDir]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  t.equal(exitCode, 0);
  const report = JSON.parse(out) as SmokeReport;
  t.same(report.stores.map((s) => s.store), ['b', 'a'], 'the stores named, in that order');
  t.same({ passed: report.passed, failed: report.failed }, { passed: 22, failed: 0 });
  for (const s of ['a', 'b']) {
    const files = (await readdir(join(dir, s, 'objects'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    t.same(files.map((e) => e.name), [], `store ${s}: nothing left`);
  }
});
