// `npm run build` starts from an empty dist/: a source file deleted or renamed
// must not leave its old .js there, where package.json `files` would ship it
// and dist/main.js could import it. The real build script runs in a scratch
// copy of the project (its package.json and tsconfigs, one tiny source file),
// so the test is fast and never touches the dist/ other processes may use.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { root } from '../helpers/built-src.js';

const run = promisify(execFile);

t.test('npm run build removes a stale file from dist/ and builds the sources', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-build-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) await copyFile(join(root, f), join(dir, f));
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  await mkdir(join(dir, 'src'));
  await writeFile(join(dir, 'src/main.ts'), 'export const built: number = 1;\n');
  await mkdir(join(dir, 'dist/removed'), { recursive: true });
  await writeFile(join(dir, 'dist/removed/old-module.js'), 'export const stale = true;\n');
  await writeFile(join(dir, 'dist/renamed.js'), 'export const stale = true;\n');
  await writeFile(join(dir, 'keep.txt'), 'not the build output\n');

  await run('npm', ['run', 'build', '--silent'], { cwd: dir, env: { ...process.env, npm_config_update_notifier: 'false' } });

  t.notOk(existsSync(join(dir, 'dist/removed/old-module.js')), 'a stale module in a subfolder is gone');
  t.notOk(existsSync(join(dir, 'dist/renamed.js')), 'a stale top-level module is gone');
  t.match(await readFile(join(dir, 'dist/main.js'), 'utf8'), /export const built = 1;/, 'the sources are built');
  t.ok(existsSync(join(dir, 'keep.txt')), 'nothing outside dist/ is touched');
});

t.test('the folder the clean step empties is the build output folder', async (t) => {
  const build = JSON.parse(await readFile(join(root, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string } };
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  t.equal(build.compilerOptions.outDir, 'dist');
  t.match(pkg.scripts.clean, /rmSync\('dist'/);
  t.match(pkg.scripts.build, /^npm run clean --silent && tsc -p tsconfig\.build\.json$/);
});
