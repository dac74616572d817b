import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { startGateway, TOKEN_WS1 } from '../helpers/gateway.js';
import { runCli, STACK_FRAME } from './_cli.js';

const URI = 'res://v1/ws/ws-1/file/blob/retained/persist/f/s/u/a.bin';

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

t.test('API errors: `error: <code>: <message>` on stderr, exit 1, no stack', async (t) => {
  const gw = await startGateway();
  t.teardown(() => gw.close());

  const gwEnv = (token?: string): Record<string, string | undefined> => ({ BLOBGATE_URL: gw.url, BLOBGATE_TOKEN: token });
  const [bad, none, flag, after, forbidden, ttl, badUri, upstream] = await Promise.all([
    runCli(['ls', 'ws-1'], { env: gwEnv('not-a-token') }),
    runCli(['head', URI], { env: gwEnv() }),
    // the flag wins over the environment, before or after the command
    runCli(['--token', 'not-a-token', 'ls', 'ws-1'], { env: gwEnv(TOKEN_WS1) }),
    runCli(['ls', 'ws-1', '-q', '--token', TOKEN_WS1, '--url', gw.url], { env: { BLOBGATE_URL: 'http://127.0.0.1:1', BLOBGATE_TOKEN: 'nope' } }),
    runCli(['ls', 'ws-2'], { env: gwEnv(TOKEN_WS1) }),
    runCli(['url', URI, '--ttl', '5'], { env: gwEnv(TOKEN_WS1) }),
    runCli(['head', 'res://nope'], { env: gwEnv(TOKEN_WS1) }),
    runCli(['fetch', 'http://10.0.0.1/x', '-w', 'ws-1'], { env: gwEnv(TOKEN_WS1) }),
  ]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^error: unauthorized: .+\n$/);
  t.notMatch(bad.stderr, STACK_FRAME);
  t.equal(bad.stdout.length, 0);

  t.equal(none.code, 1);
  t.match(none.stderr, /^error: unauthorized: /, 'no token at all');

  t.equal(flag.code, 1);
  t.match(flag.stderr, /^error: unauthorized: /);
  t.equal(after.code, 0, `global flags after the command: ${after.stderr}`);

  t.equal(forbidden.code, 1);
  t.match(forbidden.stderr, /^error: forbidden: /);

  // details come on a second line
  t.equal(ttl.code, 1);
  t.match(ttl.stderr, /^error: invalid_request: ttl-seconds must be from 60 to 604800; got 5\.\n  details: \{"field":"ttl-seconds"\}\n$/);

  t.equal(badUri.code, 1);
  t.match(badUri.stderr, /^error: invalid_request: "uri" must be a resource URI/);

  t.equal(upstream.code, 1);
  t.match(upstream.stderr, /^error: destination_blocked: /);
});

t.test('an unreachable gateway: one clear line, exit 1, no stack', async (t) => {
  const port = await deadPort();
  const commands = [['head', URI], ['get', URI, '-o', '-'], ['ls', 'ws-1'], ['fetch', 'http://example.com/', '-w', 'ws-1']];
  const results = await Promise.all(commands.map((args) => runCli(args, { env: { BLOBGATE_URL: `http://127.0.0.1:${port}`, BLOBGATE_TOKEN: 'x' } })));
  for (const [i, args] of commands.entries()) {
    const res = results[i]!;
    t.equal(res.code, 1, args[0]);
    t.equal(res.stderr, `error: unreachable: cannot reach http://127.0.0.1:${port} (ECONNREFUSED); is the gateway running? Set --url or BLOBGATE_URL.\n`, args[0]);
    t.equal(res.stdout.length, 0);
  }
  const viaFlag = await runCli(['--url', `http://127.0.0.1:${port}/`, 'rm', URI]);
  t.equal(viaFlag.code, 1);
  t.match(viaFlag.stderr, new RegExp(`^error: unreachable: cannot reach http://127\\.0\\.0\\.1:${port} `));
  t.notMatch(viaFlag.stderr, STACK_FRAME);
});

t.test('usage errors exit 2', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /Usage: blobgate/],
    [['nope'], /error: unknown command 'nope'/],
    [['head'], /error: missing required argument 'uri'/],
    [['url', URI, '--ttl', 'soon'], /error: option '--ttl <seconds>' argument 'soon' is invalid/],
    [['ls', 'ws-1', '--tier', 'hot'], /Allowed choices are retained, ephemeral/],
    [['ls', 'ws-1', '--bogus'], /error: unknown option '--bogus'/],
    [['--url', 'ftp://x', 'ls', 'ws-1'], /^error: invalid_url: the gateway URL must be http or https/],
    [['--url', 'not a url', 'ls', 'ws-1'], /^error: invalid_url: "not a url" is not a URL/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  for (const [i, [args, message]] of cases.entries()) {
    const res = results[i]!;
    t.equal(res.code, 2, args.join(' '));
    t.match(res.stderr, message, args.join(' '));
    t.notMatch(res.stderr, STACK_FRAME);
  }
});
