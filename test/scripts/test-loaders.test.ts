// Test files run under tsx alone. tap as published is built with its
// TypeScript plugin, which loads ts-node ahead of tsx into every test process
// and transpiles each source file again there, uncached: about 2.5 times the
// CPU of a test file. package.json's tap config leaves the plugin out, and
// .ci/run runs `tap build` after `npm ci`, because tap picks the loaders of a
// run before it rebuilds itself to match the config (docs/testing.md).
import t from 'tap';

t.test('this test process has the tsx loader and not ts-node', async (t) => {
  t.ok(process.execArgv.some((a) => /(^|=)tsx$/.test(a)), `tsx is imported (${process.execArgv.join(' ')})`);
  t.notOk(
    process.execArgv.some((a) => a.includes('@tapjs/typescript')),
    'tap was built without its TypeScript plugin (run `npx tap build` after an install)',
  );
  // ts-node keeps its registered service on the process under this symbol (its REGISTER_INSTANCE export).
  t.equal((process as unknown as Record<symbol, unknown>)[Symbol.for('ts-node.register.instance')], undefined, 'no ts-node service was registered');
});
