import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { patternSha256, sha256 } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';
import { runCli, sha256File } from './_cli.js';

/** fetch → head → url (and GET it) → ls → get (file, default name, stdout) → rm → head is not_found. */
t.test('the CLI round trip against a real gateway and upstream', async (t) => {
  const gw = await startGateway();
  const up = await startUpstream();
  const work = await mkdtemp(join(tmpdir(), 'bg-cli-'));
  t.teardown(async () => {
    await gw.close();
    await up.stop();
    await rm(work, { recursive: true, force: true });
  });
  const env = { BLOBGATE_URL: gw.url, BLOBGATE_TOKEN: TOKEN_ALL };
  const size = 3 * 1024 * 1024 + 17;

  // independent CLI runs go concurrently (each is a node process): the test stays quick
  const [fetched, second] = await Promise.all([
    runCli(['fetch', `${up.url}/bytes/${size}/report.bin`, '--workspace', 'ws-1', '--tier', 'ephemeral', '--path', 'exports/2026'], { env }),
    // a second, retained blob (custom flow/step) for the listing
    runCli(['fetch', `${up.url}/json`, '-w', 'ws-1', '--filename', 'doc.json', '--flow-slug', 'daily', '--step-id', 'dl'], { env }),
  ]);
  t.equal(fetched.code, 0, fetched.stderr);
  t.equal(fetched.stderr, '');
  const ref = JSON.parse(fetched.stdout.toString());
  t.equal(fetched.stdout.toString().trim().split('\n').length, 1, 'compact JSON when piped');
  t.match(ref, { type: 'resource-ref', 'blob-ref': { size, sha256: patternSha256(size), tier: 'ephemeral' } });
  t.match(ref.uri, /^res:\/\/v1\/ws\/ws-1\/file\/blob\/ephemeral\/persist\/cli\/fetch\/[0-9a-f-]+\/exports\/2026\/report\.bin$/);
  const uri: string = ref.uri;

  t.equal(second.code, 0, second.stderr);
  const ref2 = JSON.parse(second.stdout.toString());
  t.match(ref2.uri, /\/retained\/persist\/daily\/dl\/[0-9a-f-]+\/doc\.json$/);
  t.equal(ref2['content-type'], 'application/json');

  const out = join(work, 'copy.bin');
  const [head, url, urlJson, ls, q, tier, prefix, empty, get, getDefault, stdout, bigStdout] = await Promise.all([
    runCli(['head', uri], { env }),
    runCli(['url', uri, '--ttl', '600', '--download', '--filename', 'r.bin'], { env }),
    runCli(['url', uri, '--json'], { env }),
    runCli(['ls', 'ws-1'], { env }),
    runCli(['ls', 'ws-1', '-q', '--page-size', '1'], { env }),
    runCli(['ls', 'ws-1', '-q', '--tier', 'retained'], { env }),
    runCli(['ls', 'ws-1', '-q', '--path-prefix', 'persist/cli'], { env }),
    runCli(['ls', 'ws-2'], { env }),
    runCli(['get', uri, '-o', out], { env }),
    runCli(['get', uri], { env, cwd: work }),
    runCli(['get', ref2.uri, '-o', '-'], { env }),
    runCli(['get', uri, '-o', '-'], { env }),
  ]);
  t.equal(head.code, 0, head.stderr);
  const descriptor = JSON.parse(head.stdout.toString());
  t.same(
    { type: descriptor.type, uri: descriptor.uri, 'resource-uri': descriptor['resource-uri'], 'content-type': descriptor['content-type'], 'blob-ref': descriptor['blob-ref'] },
    { type: 'resource-ref', uri, 'resource-uri': uri, 'content-type': ref['content-type'], 'blob-ref': ref['blob-ref'] },
    'head prints the descriptor of the fetched blob',
  );

  // url: bare URL, then --json; the signed URL serves the same bytes
  t.equal(url.code, 0, url.stderr);
  const signed = url.stdout.toString().trim();
  t.match(signed, new RegExp(`^${gw.url}/v1/signed/`));
  const res = await fetch(signed);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-disposition'), /attachment.*r\.bin/);
  t.equal(sha256(Buffer.from(await res.arrayBuffer())), patternSha256(size), 'the signed URL serves the blob');
  t.equal(urlJson.code, 0, urlJson.stderr);
  const minted = JSON.parse(urlJson.stdout.toString());
  t.match(minted, { url: /^http:\/\/127\.0\.0\.1:\d+\/v1\/signed\//, 'expires-at': /^\d{4}-\d\d-\d\dT/ });
  t.ok(Date.parse(minted['expires-at']) - Date.now() > 800_000, 'the default ttl (900 s)');

  // ls: table, -q, filters, and cursor pages followed (page size 1)
  t.equal(ls.code, 0, ls.stderr);
  const lines = ls.stdout.toString().trimEnd().split('\n');
  t.match(lines[0], /^URI\s+SIZE\s+CONTENT-TYPE\s+CREATED-AT$/);
  t.equal(lines.length, 3, 'header + two blobs');
  const row = lines.find((l) => l.startsWith(uri));
  t.ok(row, 'the fetched blob is listed');
  t.match(row, new RegExp(`^${uri.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+${size}\\s+application/octet-stream\\s+${ref['blob-ref']['created-at']}$`));
  t.equal(q.code, 0, q.stderr);
  t.same(q.stdout.toString().trim().split('\n').sort(), [uri, ref2.uri].sort(), '-q: one URI per line, every page');
  t.equal(tier.stdout.toString(), `${ref2.uri}\n`);
  t.equal(prefix.stdout.toString(), `${uri}\n`);
  t.equal(empty.code, 0);
  t.match(empty.stdout.toString(), /^URI\s+SIZE\s+CONTENT-TYPE\s+CREATED-AT\n$/, 'an empty workspace: the header only');

  // get: explicit file, default name in the cwd, stdout
  t.equal(get.code, 0, get.stderr);
  t.equal(get.stdout.length, 0);
  t.equal(await sha256File(out), patternSha256(size), 'get -o file: same bytes');
  t.equal(getDefault.code, 0, getDefault.stderr);
  t.equal(await sha256File(join(work, 'report.bin')), patternSha256(size), 'default file name: the URI\'s last segment');
  t.equal(stdout.code, 0, stdout.stderr);
  t.same(JSON.parse(stdout.stdout.toString()), { ok: true, items: [1, 2, 3], name: 'blobgate' }, 'get -o -: the bytes on stdout');
  t.equal(sha256(bigStdout.stdout), patternSha256(size), 'get -o -: a multi-MiB body on stdout');

  // rm, then head is not_found (exit 1), rm again still succeeds (idempotent)
  const del = await runCli(['rm', uri], { env });
  t.equal(del.code, 0, del.stderr);
  t.equal(del.stdout.length + del.stderr.length, 0, 'rm is quiet');
  const [gone, again, missingGet] = await Promise.all([
    runCli(['head', uri], { env }),
    runCli(['rm', uri], { env }),
    runCli(['get', uri, '-o', join(work, 'never.bin')], { env }),
  ]);
  t.equal(gone.code, 1);
  t.match(gone.stderr, /^error: not_found: /);
  t.equal(gone.stdout.length, 0);
  t.equal(again.code, 0, again.stderr);
  t.equal(missingGet.code, 1);
  t.match(missingGet.stderr, /^error: not_found: /);
  await t.rejects(readFile(join(work, 'never.bin')), { code: 'ENOENT' }, 'no file is created for a failed get');
});
