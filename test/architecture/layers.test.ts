import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import ts from 'typescript';

// The layer picture of docs/architecture.md#layers, as a rule: every import
// under src/ points sideways or down. A module that imports one of a higher
// layer (a use case reaching into http/, storage/ knowing about steps) fails
// here, with the file and the import that broke the rule.

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Higher numbers sit higher; a layer is a top-level folder (or file) of src/. */
const RANK: Record<string, number> = {
  'main.ts': 9,
  cli: 9,
  client: 9,
  smoke: 9,
  'app.ts': 8,
  http: 7,
  step: 6,
  jobs: 6,
  shares: 6,
  resources: 5,
  uploads: 5,
  persist: 4,
  upstream: 4,
  refs: 3,
  signing: 3,
  conformance: 3,
  secrets: 3,
  storage: 2,
  config: 1,
  'errors.ts': 0,
  'node-flags.ts': 0,
};

/**
 * Upward imports the picture names and allows, so config and requests are
 * checked by the same rules (docs/architecture.md#layers): nothing else.
 */
const ALLOWED_UPWARD = new Set([
  'config/types.ts -> storage/driver.ts',
  'config/load.ts -> upstream/address-policy.ts',
  'config/load.ts -> secrets/credential-names.ts',
  // Each backend reads its own store section (docs/architecture.md#configuration): load.ts hands it over
  // through the registry's table of backends, and types.ts takes StoreConfig, the union of their options, from there.
  'config/load.ts -> storage/registry.ts',
  'config/types.ts -> storage/registry.ts',
]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

function layerOf(file: string): string {
  return relative(SRC, file).split('/')[0]!;
}

/** Relative imports of a file (static, re-exports, dynamic import() and import type), as src-relative .ts paths. */
export function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts'));
}

const files = sourceFiles(SRC);

t.test('every top-level part of src/ has a place in the picture', async (t) => {
  const layers = new Set(files.map(layerOf));
  for (const layer of layers) t.ok(layer in RANK, `${layer} has a rank (add it to RANK and to docs/architecture.md)`);
});

t.test('no import points to a higher layer', async (t) => {
  const upward: string[] = [];
  for (const file of files) {
    const from = layerOf(file);
    for (const target of importsOf(file)) {
      if (target.startsWith('..')) continue; // outside src/ (package.json and the like)
      const to = target.split('/')[0]!;
      const arrow = `${relative(SRC, file)} -> ${target}`;
      if ((RANK[to] ?? 0) > (RANK[from] ?? 0) && !ALLOWED_UPWARD.has(arrow)) upward.push(arrow);
    }
  }
  t.same(upward, [], 'upward imports');
});

t.test('nothing below the HTTP layer imports from http/ or app.ts', async (t) => {
  const below = files.filter((f) => (RANK[layerOf(f)] ?? 0) < RANK.http!);
  const offenders = below.flatMap((f) => importsOf(f).filter((i) => i.startsWith('http/') || i === 'app.ts').map((i) => `${relative(SRC, f)} -> ${i}`));
  t.same(offenders, []);
});

t.test('src/ imports neither support/ nor test/; scripts/ and support/ never import from test/', async (t) => {
  // support/ (the protocol servers, the smoke's test stores) serves the tests, npm run smoke, dev:stores and
  // the benchmarks; it is not built, so the shipped code must not need it (docs/testing.md#the-pieces).
  const root = resolve(SRC, '..');
  const rules: Array<[string, string[]]> = [['src', ['support/', 'test/']], ['scripts', ['test/']], ['support', ['test/']]];
  const offenders: string[] = [];
  for (const [dir, banned] of rules) {
    for (const file of sourceFiles(join(root, dir))) {
      const specs = ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName).filter((spec) => spec.startsWith('.'));
      for (const spec of specs) {
        const target = relative(root, resolve(dirname(file), spec));
        if (banned.some((b) => target.startsWith(b))) offenders.push(`${relative(root, file)} -> ${target}`);
      }
    }
  }
  t.same(offenders, []);
  // Guards the walk: the tests do import support/, so an empty finding above is not an empty scan.
  t.match(readFileSync(join(root, 'test/contract/s3.test.ts'), 'utf8'), /from '\.\.\/\.\.\/support\/servers\/s3\/fauxqs\.js'/);
  t.ok(sourceFiles(join(root, 'support')).length > 10 && sourceFiles(join(root, 'scripts')).length > 5, 'support/ and scripts/ are read');
});

t.test('the rule is checked on real imports: a known arrow is found', async (t) => {
  // Guards the parser: if it silently found no imports, every rule above would pass.
  t.ok(importsOf(join(SRC, 'step/run-step.ts')).includes('persist/write-cap.ts'));
  t.ok(importsOf(join(SRC, 'http/metrics.ts')).includes('step/transfer-observer.ts'), 'import type is counted');
});
