import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { gatewayEntry } from '../src/cli/commands/serve.js';
import { GATEWAY_ENV, GATEWAY_NODE_FLAGS, gatewayEnv } from '../src/node-flags.js';

const root = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);

/** What the image runs: the last CMD of the last stage (Docker keeps only that one), in exec form. */
function imageCommand(dockerfile: string): { cmd: unknown; entrypoint: boolean } {
  const lastStage = dockerfile.split(/^FROM\s/im).at(-1) ?? '';
  const cmds = [...lastStage.matchAll(/^CMD\s+(.*)$/gim)].map((m) => m[1]!.trim());
  const last = cmds.at(-1);
  let cmd: unknown;
  try {
    cmd = last === undefined ? undefined : JSON.parse(last);
  } catch {
    cmd = last; // shell form: not an array, so the comparison below fails and shows it
  }
  return { cmd, entrypoint: /^ENTRYPOINT\s/im.test(lastStage) };
}

/** The variables the image's last stage sets with ENV (either form, continued lines joined). */
function imageEnv(dockerfile: string): Record<string, string> {
  const lastStage = (dockerfile.split(/^FROM\s/im).at(-1) ?? '').replace(/\\\n/g, ' ');
  const env: Record<string, string> = {};
  for (const m of lastStage.matchAll(/^ENV\s+(.*)$/gim)) {
    const words = m[1]!.trim().split(/\s+/);
    if (words[0]!.includes('=')) for (const w of words) env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
    else env[words[0]!] = words.slice(1).join(' ');
  }
  return env;
}

t.test('npm start, the container and blobgate serve start the gateway with the same node flags and environment', async (t) => {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  // The caller's own value of a variable wins (sh's ${NAME:-default}).
  const envWords = Object.entries(GATEWAY_ENV).map(([k, v]) => `${k}=\${${k}:-${v}}`);
  t.equal(pkg.scripts.start, [...envWords, 'node', ...GATEWAY_NODE_FLAGS, 'dist/main.js'].join(' '), 'package.json start');
  t.ok(Object.keys(GATEWAY_ENV).length > 0);

  const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
  const env = imageEnv(dockerfile);
  for (const [k, v] of Object.entries(GATEWAY_ENV)) t.equal(env[k], v, `the image's ENV ${k}`);

  const image = imageCommand(dockerfile);
  t.same(image.cmd, ['node', ...GATEWAY_NODE_FLAGS, 'dist/main.js'], "the image's CMD");
  t.notOk(image.entrypoint, 'no ENTRYPOINT puts anything before the CMD');

  for (const url of ['file:///app/dist/cli/commands/serve.js', 'file:///app/src/cli/commands/serve.ts']) {
    t.same(gatewayEntry(url).slice(0, GATEWAY_NODE_FLAGS.length), GATEWAY_NODE_FLAGS, `blobgate serve from ${url.split('/app/')[1]}`);
  }
});

t.test('gatewayEnv adds the variables a caller has not set, and keeps those it has', async (t) => {
  t.same(gatewayEnv({ PATH: '/bin' }), { ...GATEWAY_ENV, PATH: '/bin' });
  t.same(gatewayEnv({ MALLOC_ARENA_MAX: '4' }).MALLOC_ARENA_MAX, '4');
});

t.test('the Dockerfile check reads the environment the image sets', async (t) => {
  t.same(imageEnv('FROM a\nENV A=1\nFROM b\nENV B=2 \\\n    C=3\nENV D 4 5\n'), { B: '2', C: '3', D: '4 5' }, 'the last stage, continued lines, the legacy form');
});

t.test('the Dockerfile check reads the command the image runs', async (t) => {
  t.same(imageCommand('FROM a AS build\nCMD ["x"]\nFROM b\n  CMD node -e 1\nCMD ["node", "y.js"]\n').cmd, ['node', 'y.js'], 'the last stage, an indented HEALTHCHECK CMD skipped');
  t.same(imageCommand('FROM b\nCMD ["node", "a.js"]\ncmd ["node", "b.js"]\n').cmd, ['node', 'b.js'], 'the last CMD wins, in any case');
  t.equal(imageCommand('FROM b\nCMD node dist/main.js\n').cmd, 'node dist/main.js', 'a shell-form CMD is not taken for an exec-form one');
  t.ok(imageCommand('FROM b\nENTRYPOINT ["node"]\nCMD ["dist/main.js"]\n').entrypoint);
});

t.test('this node takes the flags, and they bound the young generation to 2 MiB semi-spaces', async (t) => {
  // Allocation enough for V8 to grow a young generation of 16 MiB semi-spaces to its full size.
  const probe = `
    let keep = [];
    for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 20000) keep = []; }
    const ns = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    console.log(ns.space_size);`;
  // No NODE_OPTIONS of the caller's: the two runs differ only by the flags under test.
  const env = { PATH: process.env.PATH };
  const newSpace = async (flags: readonly string[]): Promise<number> => Number((await run(process.execPath, [...flags, '-e', probe], { env })).stdout);
  const bounded = await newSpace(GATEWAY_NODE_FLAGS);
  const large = await newSpace(['--max-semi-space-size=16']);
  t.ok(bounded > 0 && bounded <= 4 * 1024 * 1024, `new space with the flags: ${bounded} bytes`);
  t.ok(large > bounded, `with 16 MiB semi-spaces the same allocation grows it further (${large} bytes): the probe can tell`);
});
