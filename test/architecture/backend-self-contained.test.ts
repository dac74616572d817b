import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import ts from 'typescript';

// Issue 17's rule for backends (docs/architecture.md#configuration): a
// backend's options are read in its own folder; every other module learns
// what it needs from the registry's table (describe, credential references,
// lifecycle wish) or from the driver contract. This finds, with the type
// checker, every property read on a store's options outside the backend
// folders, and every test of `driver` against a backend's name.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');
const BACKEND_DIRS = ['storage/s3/', 'storage/gcs/', 'storage/local/'];
const OPTION_TYPES = new Set(['S3StoreConfig', 'GcsStoreConfig', 'LocalStoreConfig']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** The option type names a type is made of (a union of them, or one). */
function optionTypes(type: ts.Type): string[] {
  const parts = type.isUnion() ? type.types : [type];
  return parts.map((p) => p.aliasSymbol?.name ?? p.getSymbol()?.name ?? '').filter((n) => OPTION_TYPES.has(n));
}

/** `file:line: what` for each backend option read outside a backend folder. */
export function backendFieldReads(files: string[]): string[] {
  const program = ts.createProgram(files, { strict: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, noEmit: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const found: string[] = [];
  for (const file of files) {
    const rel = relative(SRC, file);
    if (BACKEND_DIRS.some((d) => rel.startsWith(d))) continue;
    const source = program.getSourceFile(file);
    if (!source) continue;
    const at = (node: ts.Node): string => `src/${rel}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAccessExpression(node) && node.name.text !== 'driver') {
        const names = optionTypes(checker.getTypeAtLocation(node.expression));
        if (names.length > 0) found.push(`${at(node)}: reads .${node.name.text} of ${names.join(' | ')}`);
      }
      if (ts.isBinaryExpression(node) && [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken].includes(node.operatorToken.kind)) {
        const sides = [node.left, node.right];
        const driverRead = sides.some((s) => ts.isPropertyAccessExpression(s) && s.name.text === 'driver' && optionTypes(checker.getTypeAtLocation(s.expression)).length > 0);
        if (driverRead) found.push(`${at(node)}: tests a store's driver (${node.getText(source)})`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

t.test('no module outside a backend folder reads a backend option or branches on a driver name', async (t) => {
  const reads = backendFieldReads(sourceFiles(SRC));
  t.same(reads, [], 'each line names a read to move behind the backend (src/storage/registry.ts StoreBackend)');
});
