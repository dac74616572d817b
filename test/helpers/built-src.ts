import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `src/` compiled to JavaScript once per content, for tests that start the
 * CLI or the gateway as a child process. Under `--import tsx` every child
 * paid the loader's start and its per-module hooks again (about 0.8 s of CPU
 * for a CLI command, 1.3 s for the gateway's module graph, on this project's
 * two-core machines), and the suite starts well over a hundred of them. The
 * shipped `bin` is compiled JavaScript too (package.json: dist/cli/main.js).
 *
 * Each file is transpiled on its own by the project's TypeScript (no type
 * check: `npm run typecheck` does that), as tsx does with esbuild. The output
 * is `.tap/built-src/<hash>/src/…` beside a copy of package.json, the layout
 * `dist/` has relative to the package root, so `blobgate --version` and
 * `serve`'s gateway entry (src/cli/commands/serve.ts) resolve as in `dist/`,
 * and packages resolve from the project's node_modules. `<hash>` covers every
 * file under src/, package.json and tsconfig.json, so an edit gets a fresh
 * build and a test never runs stale code; concurrent test files share one
 * build (a lock directory), and what no test process used for six hours is removed.
 */
export const root = fileURLToPath(new URL('../..', import.meta.url));
const cacheDir = join(root, '.tap', 'built-src');
/** A build takes seconds; a lock this old was left by a test process that died building. */
const STALE_LOCK_MS = 600_000;
const KEEP_MS = 6 * 3600_000;
/** What a cached file's output depends on besides its text. */
const TRANSPILE = `typescript ${JSON.parse(readFileSync(join(root, 'node_modules/typescript/package.json'), 'utf8')).version as string} module ES2022 target ES2022`;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

function contentHash(files: string[]): string {
  const hash = createHash('sha256').update(TRANSPILE);
  for (const file of [...files, join(root, 'package.json'), join(root, 'tsconfig.json')]) {
    hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 20);
}

/**
 * Transpiles into `into`. Each file's output is kept by the hash of its text
 * (`.tap/built-src/files/`), so the build after an edit transpiles only the
 * files that changed.
 */
async function compile(files: string[], into: string): Promise<void> {
  let ts: typeof import('typescript') | undefined;
  const filesDir = join(cacheDir, 'files');
  await mkdir(filesDir, { recursive: true });
  for (const file of files) {
    const rel = relative(root, file);
    const out = join(into, rel.endsWith('.ts') ? `${rel.slice(0, -3)}.js` : rel);
    await mkdir(dirname(out), { recursive: true });
    const text = readFileSync(file);
    if (!rel.endsWith('.ts')) {
      await writeFile(out, text);
      continue;
    }
    const cached = join(filesDir, `${createHash('sha256').update(TRANSPILE).update('\0').update(text).digest('hex')}.js`);
    if (!existsSync(cached)) {
      ts ??= (await import('typescript')).default;
      const compilerOptions = { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 };
      const tmp = `${cached}.${randomUUID()}`;
      await writeFile(tmp, ts.transpileModule(text.toString('utf8'), { compilerOptions, fileName: file }).outputText);
      await rename(tmp, cached);
    } else {
      await utimes(cached, new Date(), new Date());
    }
    await copyFile(cached, out);
  }
  await writeFile(join(into, 'package.json'), readFileSync(join(root, 'package.json')));
  await writeFile(join(into, '.complete'), '');
}

async function prune(keep: string): Promise<void> {
  for (const name of await readdir(cacheDir).catch(() => [] as string[])) {
    const path = join(cacheDir, name);
    if (path === keep || name === 'files') continue;
    // A build's .complete is touched whenever a test process takes the build.
    const { mtimeMs } = await stat(join(path, '.complete')).catch(() => stat(path)).catch(() => ({ mtimeMs: Date.now() }));
    if (Date.now() - mtimeMs > KEEP_MS) await rm(path, { recursive: true, force: true });
  }
}

/** Transpiled files no build used for KEEP_MS (a build that uses one refreshes its mtime). */
async function pruneFiles(): Promise<void> {
  const filesDir = join(cacheDir, 'files');
  for (const name of await readdir(filesDir).catch(() => [] as string[])) {
    const path = join(filesDir, name);
    const { mtimeMs } = await stat(path).catch(() => ({ mtimeMs: Date.now() }));
    if (Date.now() - mtimeMs > KEEP_MS) await rm(path, { force: true });
  }
}

async function ensureBuilt(): Promise<string> {
  const files = sourceFiles(join(root, 'src'));
  const dir = join(cacheDir, contentHash(files));
  const lock = `${dir}.lock`;
  while (!existsSync(join(dir, '.complete'))) {
    try {
      await mkdir(cacheDir, { recursive: true });
      await mkdir(lock);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another test process is building this content: wait for it, unless it died mid-build.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      if (existsSync(join(dir, '.complete'))) break;
      const tmp = `${dir}.tmp-${randomUUID()}`;
      await compile(files, tmp);
      // A whole tree appears at once; should a process that took a stale lock have won, its tree stays.
      await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
        await rm(tmp, { recursive: true, force: true });
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
      await prune(dir);
      await pruneFiles();
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
  await utimes(join(dir, '.complete'), new Date(), new Date());
  return dir;
}

/** The compiled tree: `${builtSrc}/src/main.js` is the gateway, `${builtSrc}/src/cli/main.js` the CLI. */
export const builtSrc = await ensureBuilt();
export const builtGateway = join(builtSrc, 'src', 'main.js');
export const builtCli = join(builtSrc, 'src', 'cli', 'main.js');
