import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import t from 'tap';
import { patternSha256, patternStream, sha256 } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { runCli } from './_cli.js';

/** `blobgate put` against PUT /v1/workspaces/:ws/uploads/:filename (the raw-body upload route). */
t.test('put streams a multi-MiB file and the stored blob has its sha256', async (t) => {
  const gw = await startGateway();
  const work = await mkdtemp(join(tmpdir(), 'bg-cli-put-'));
  t.teardown(async () => {
    await gw.close();
    await rm(work, { recursive: true, force: true });
  });
  const env = { BLOBGATE_URL: gw.url, BLOBGATE_TOKEN: TOKEN_ALL };
  const size = 6 * 1024 * 1024 + 3;
  const file = join(work, 'dump.csv');
  await pipeline(patternStream(size, { seed: 11 }), createWriteStream(file));

  const put = await runCli(['put', file, '--workspace', 'ws-1', '--path', 'imports/2026'], { env });
  t.equal(put.code, 0, put.stderr);
  t.equal(put.stderr, '', 'nothing on stderr when it is not a terminal');
  const ref = JSON.parse(put.stdout.toString());
  t.match(ref, { type: 'resource-ref', 'content-type': 'text/csv', 'blob-ref': { size, sha256: patternSha256(size, 11), tier: 'retained' } });
  t.match(ref.uri, /^res:\/\/v1\/ws\/ws-1\/file\/blob\/retained\/uploads\/[0-9a-f-]+\/imports\/2026\/dump\.csv$/);

  // the stored bytes, read back through the API, are the file's
  const content = await fetch(`${gw.url}/v1/resources/content?uri=${encodeURIComponent(ref.uri)}`, { headers: { authorization: `Bearer ${TOKEN_ALL}` } });
  t.equal(content.status, 200);
  t.equal(sha256(Buffer.from(await content.arrayBuffer())), patternSha256(size, 11));

  // --filename and --content-type win over the local name and the lookup
  const small = join(work, 'x.bin');
  await writeFile(small, 'hello blobgate\n');
  const named = await runCli(['put', small, '-w', 'ws-1', '--filename', 'greeting.txt', '--content-type', 'text/x-greeting'], { env });
  t.equal(named.code, 0, named.stderr);
  const ref2 = JSON.parse(named.stdout.toString());
  t.match(ref2.uri, /\/uploads\/[0-9a-f-]+\/greeting\.txt$/);
  t.equal(ref2['content-type'], 'text/x-greeting');
  t.match(ref2['blob-ref'], { size: 15, sha256: sha256('hello blobgate\n') });

  // a slot with a root: workspaces/<ws>/storage/<root>/<path>/<filename>
  const slot = await runCli(['put', small, '-w', 'ws-1', '--slot', 'inbox', '--root', 'shared/inbox', '--path', 'a'], { env });
  t.equal(slot.code, 0, slot.stderr);
  const ref3 = JSON.parse(slot.stdout.toString());
  t.equal(ref3.uri, 'res://v1/ws/ws-1/file/blob/retained/storage/shared/inbox/a/x.bin');
  t.match(ref3.storage, { slot: 'inbox', root: 'shared/inbox' });
  const listed = await runCli(['ls', 'ws-1', '-q', '--storage-root', 'shared/inbox'], { env });
  t.equal(listed.stdout.toString(), `${ref3.uri}\n`);
});

t.test('put errors: a missing file, a workspace the token may not use, a missing --workspace', async (t) => {
  const gw = await startGateway();
  const work = await mkdtemp(join(tmpdir(), 'bg-cli-put-'));
  t.teardown(async () => {
    await gw.close();
    await rm(work, { recursive: true, force: true });
  });
  const env = { BLOBGATE_URL: gw.url, BLOBGATE_TOKEN: TOKEN_ALL };
  const missing = await runCli(['put', join(work, 'nope.bin'), '-w', 'ws-1'], { env });
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^error: io_error: cannot read .*nope\.bin: no such file\n$/);

  const file = join(work, 'f.txt');
  await writeFile(file, 'x');
  const forbidden = await runCli(['put', file, '-w', 'ws-9'], { env });
  t.equal(forbidden.code, 1);
  t.match(forbidden.stderr, /^error: forbidden: /);
  t.equal(forbidden.stdout.length, 0);

  const usage = await runCli(['put', file], { env });
  t.equal(usage.code, 2, 'a missing required option is a usage error');
  t.match(usage.stderr, /required option '-w, --workspace <ws>' not specified/);
  t.same((await gw.residue()).objects, [], 'nothing was stored');
});

t.test('put of a file over the retained cap fails with exit 1 and leaves nothing', async (t) => {
  const cap = 1024 * 1024;
  const gw = await startGateway({ tiers: { retained: { store: 'retained', 'cap-bytes': cap, 'load-bytes': cap } } });
  const work = await mkdtemp(join(tmpdir(), 'bg-cli-put-'));
  t.teardown(async () => {
    await gw.close();
    await rm(work, { recursive: true, force: true });
  });
  const file = join(work, 'big.bin');
  await pipeline(patternStream(4 * cap), createWriteStream(file));
  const res = await runCli(['put', file, '-w', 'ws-1'], { env: { BLOBGATE_URL: gw.url, BLOBGATE_TOKEN: TOKEN_ALL } });
  t.equal(res.code, 1);
  // The gateway refuses on the announced length and closes the connection; depending on who wins
  // that race the CLI reads the 413, or sees the socket close mid-upload and says so.
  t.match(res.stderr, /^error: (cap_exceeded: .*\n  details: .*"max-bytes":1048576|unreachable: the connection to .* broke while the file was being sent \(.+\); the gateway may have refused it)/);
  t.notMatch(res.stderr, /is the gateway running/, 'not reported as an unreachable gateway');
  t.equal(res.stdout.length, 0);
  t.same((await gw.residue()).objects, [], 'nothing stored');
});
