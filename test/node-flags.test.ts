import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { gatewayEntry } from '../src/cli/commands/serve.js';
import { GATEWAY_NODE_FLAGS } from '../src/node-flags.js';

const root = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);

t.test('npm start, the container and blobgate serve start the gateway with the same node flags', async (t) => {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  t.equal(pkg.scripts.start, ['node', ...GATEWAY_NODE_FLAGS, 'dist/main.js'].join(' '), 'package.json start');

  const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
  const cmd = /^CMD (\[.*\])\s*$/m.exec(dockerfile)?.[1];
  t.ok(cmd, 'the Dockerfile has an exec-form CMD');
  t.same(JSON.parse(cmd ?? '[]'), ['node', ...GATEWAY_NODE_FLAGS, 'dist/main.js'], 'Dockerfile CMD');

  for (const url of ['file:///app/dist/cli/commands/serve.js', 'file:///app/src/cli/commands/serve.ts']) {
    t.same(gatewayEntry(url).slice(0, GATEWAY_NODE_FLAGS.length), GATEWAY_NODE_FLAGS, `blobgate serve from ${url.split('/app/')[1]}`);
  }
});

t.test('this node takes the flags, and they bound the young generation to 2 × 2 MiB', async (t) => {
  // Allocation enough for V8 to grow an unbounded young generation to its 2 × 16 MiB default.
  const probe = `
    let keep = [];
    for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 20000) keep = []; }
    const ns = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    console.log(ns.space_size);`;
  const bounded = Number((await run(process.execPath, [...GATEWAY_NODE_FLAGS, '-e', probe])).stdout);
  const unbounded = Number((await run(process.execPath, ['-e', probe])).stdout);
  t.ok(bounded > 0 && bounded <= 4 * 1024 * 1024, `new space with the flags: ${bounded} bytes`);
  t.ok(unbounded > bounded, `without them the same allocation grows it further (${unbounded} bytes): the probe can tell`);
});
