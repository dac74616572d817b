// fetch's request flags reach the upstream as given; --slot/--root persist through a slot; put --root needs --slot.
import t from 'tap';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';
import { runCli, runCliInPty } from './_cli.js';

t.test('fetch --method --header --query --json --timeout --retry --slot --root', async (t) => {
  const gw = await startGateway();
  const up = await startUpstream();
  t.teardown(async () => {
    await gw.close();
    await up.stop();
  });
  const env = { BLOBGATE_URL: gw.url, BLOBGATE_TOKEN: TOKEN_ALL };
  const res = await runCli(
    ['fetch', `${up.url}/api/echo`, '-w', 'ws-1', '--method', 'post', '--header', 'X-Run: r-7', '--query', 'month=2026-03', '--json', '{"a":1}', '--timeout', '30', '--retry', '2', '--slot', 'archive', '--root', 'reports/acme', '--filename', 'echo.json'],
    { env },
  );
  t.equal(res.code, 0, res.stderr);
  const ref = JSON.parse(res.stdout.toString());
  t.match(ref.uri, /\/storage\/reports\/acme\/echo\.json$/, 'persisted through the slot root');
  const content = await fetch(`${gw.url}/v1/resources/content?uri=${encodeURIComponent(ref.uri)}`, { headers: { authorization: `Bearer ${TOKEN_ALL}` } });
  const echoed = (await content.json()) as { method: string; url: string; headers: Record<string, string>; body: string };
  t.equal(echoed.method, 'POST');
  t.match(echoed.url, /\/api\/echo\?month=2026-03$/);
  t.equal(echoed.headers['x-run'], 'r-7');
  t.match(echoed.headers['content-type'], /^application\/json/);
  t.same(JSON.parse(echoed.body), { a: 1 });

  const bad = await Promise.all([
    runCli(['fetch', `${up.url}/json`, '-w', 'ws-1', '--header', 'no-separator'], { env }),
    runCli(['fetch', `${up.url}/json`, '-w', 'ws-1', '--json', '{not json'], { env }),
    runCli(['fetch', `${up.url}/json`, '-w', 'ws-1', '--root', 'r'], { env }),
    runCli(['put', 'package.json', '-w', 'ws-1', '--root', 'r'], { env }),
  ]);
  for (const r of bad) {
    t.equal(r.code, 2, r.stderr);
    t.match(r.stderr, /^error: invalid_request: /);
  }
});

t.test('ls --json prints one item per line, exact sizes; on a terminal the table shows human sizes and fits', async (t) => {
  const gw = await startGateway();
  const up = await startUpstream();
  t.teardown(async () => {
    await gw.close();
    await up.stop();
  });
  const env = { BLOBGATE_URL: gw.url, BLOBGATE_TOKEN: TOKEN_ALL };
  t.equal((await runCli(['fetch', `${up.url}/bytes/3000000/a-rather-long-file-name-for-the-table.bin`, '-w', 'ws-1'], { env })).code, 0);
  const json = await runCli(['ls', 'ws-1', '--json'], { env });
  const items = json.stdout.toString().trim().split('\n').map((l) => JSON.parse(l));
  t.equal(items.length, 1);
  t.equal(items[0]['blob-ref'].size, 3000000);
  const tty = await runCliInPty(['ls', 'ws-1'], { env, columns: 90 });
  t.equal(tty.code, 0);
  t.match(tty.output, /2\.9 MiB/, 'human size');
  const widest = Math.max(...tty.output.split(/\r?\n/).map((l) => l.length));
  t.ok(widest <= 90, `every line fits 90 columns (widest ${widest})`);
});
