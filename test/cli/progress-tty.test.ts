import { mkdtemp, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { patternSha256, patternStream } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';
import { runCli, runCliInPty, sha256File } from './_cli.js';

/** The final progress line: `<name> [####] 100%  <done> / <total>  <rate>/s  in <t>s`. */
function finalLine(name: string, amount: string): RegExp {
  return new RegExp(`${name.replace('.', '\\.')} \\[#+\\] 100%  ${amount} / ${amount}  [0-9.]+ (B|KiB|MiB|GiB)/s  in [0-9.]+s`);
}

t.test('progress on stderr only when it is a terminal', async (t) => {
  const gw = await startGateway();
  const up = await startUpstream();
  const work = await mkdtemp(join(tmpdir(), 'bg-cli-tty-'));
  t.teardown(async () => {
    await gw.close();
    await up.stop();
    await rm(work, { recursive: true, force: true });
  });
  const env = { BLOBGATE_URL: gw.url, BLOBGATE_TOKEN: TOKEN_ALL };
  const size = 8 * 1024 * 1024;
  const step = await gw.step({ request: { url: `${up.url}/bytes/${size}/big.bin`, 'response-as': 'bytes' }, persist: { type: 'blob', tier: 'ephemeral' } });
  t.equal(step.status, 200);
  const uri: string = step.json.uri;

  // piped: nothing on stderr, nothing on stdout
  const piped = await runCli(['get', uri, '-o', join(work, 'piped.bin')], { env });
  t.equal(piped.code, 0);
  t.equal(piped.stderr, '', 'no progress when stderr is not a TTY');
  t.equal(piped.stdout.length, 0);
  t.equal(await sha256File(join(work, 'piped.bin')), patternSha256(size));

  // under a pseudo-terminal: a progress bar ending with its final line
  const tty = await runCliInPty(['get', uri, '-o', join(work, 'tty.bin')], { env });
  t.equal(tty.code, 0, tty.output);
  t.match(tty.output, finalLine('tty.bin', '8.0 MiB'), 'get: bytes done/total and a rate');
  t.match(tty.output, /\r/, 'redraws in place');
  t.match(tty.output, /\x1b\[K\r?\n/, 'the final line ends the bar');
  t.equal(await sha256File(join(work, 'tty.bin')), patternSha256(size));

  // put under a terminal
  const file = join(work, 'up.dat');
  await pipeline(patternStream(5 * 1024 * 1024, { seed: 3 }), createWriteStream(file));
  const put = await runCliInPty(['put', file, '-w', 'ws-1'], { env });
  t.equal(put.code, 0, put.output);
  t.match(put.output, finalLine('up.dat', '5.0 MiB'), 'put: bytes done/total and a rate');
  // the ref follows the bar, pretty-printed for the terminal
  const json = put.output.slice(put.output.indexOf('{'));
  t.match(json, /^\{\r?\n  "type": "resource-ref",/);
  t.match(JSON.parse(json.replace(/\r/g, '')), { 'blob-ref': { size: 5 * 1024 * 1024, sha256: patternSha256(5 * 1024 * 1024, 3) } });

  // head: pretty JSON on a terminal, compact when piped
  const headTty = await runCliInPty(['head', uri], { env });
  t.equal(headTty.code, 0);
  t.match(headTty.output, /^\{\r?\n  "type": "resource-ref",\r?\n  "uri": /);
  const headPiped = await runCli(['head', uri], { env });
  t.match(headPiped.stdout.toString(), /^\{"type":"resource-ref","uri":[^\n]+\}\n$/);
});
