// The compiled src/ that child gateways and CLI commands run (test/helpers/built-src.ts)
// is the source under test: one output per file of src/ as it is now, beside
// the project's package.json, so a test never runs a stale or partial build.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import { builtSrc, root } from '../helpers/built-src.js';

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

t.test('every file of src/ has its compiled output in the build, and nothing else is there', async (t) => {
  const want = walk(join(root, 'src')).map((f) => relative(root, f).replace(/\.ts$/, '.js')).sort();
  const have = walk(join(builtSrc, 'src')).map((f) => relative(builtSrc, f)).sort();
  t.same(have, want);
  t.equal(readFileSync(join(builtSrc, 'package.json'), 'utf8'), readFileSync(join(root, 'package.json'), 'utf8'), "the project's package.json, for --version and the ESM type");
});

t.test('the output is the current text of its source, types removed', async (t) => {
  // A string literal of src/cli/main.ts as it is on disk now must be in the built main.js.
  const source = readFileSync(join(root, 'src/cli/main.ts'), 'utf8');
  const built = readFileSync(join(builtSrc, 'src/cli/main.js'), 'utf8');
  const literals = [...source.matchAll(/'([\w .,:<>@/-]{12,})'/g)].map((m) => m[1]!);
  t.ok(literals.length > 0);
  for (const s of literals) t.ok(built.includes(s), `has '${s}'`);
  t.notMatch(built, /\): Promise<void> \{/, 'no type annotations left');
});
