import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { patternChunk, patternSha256 } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { runCli } from './_cli.js';

// `blobgate put --tier` against a real gateway: the tier reaches the upload
// route, and a cap refusal tells a put user what a put user can do.
const CAP = 1000;
const gw = await startGateway({ tiers: { retained: { 'cap-bytes': CAP }, ephemeral: { 'cap-bytes': 3 * CAP } } });
const work = await mkdtemp(join(tmpdir(), 'bg-cli-put-tier-'));
t.teardown(async () => {
  await gw.close();
  await rm(work, { recursive: true, force: true });
});
const env = { BLOBGATE_URL: gw.url, BLOBGATE_TOKEN: TOKEN_ALL };
const big = join(work, 'big.bin');
await writeFile(big, patternChunk(0, 2 * CAP));
const huge = join(work, 'huge.bin');
await writeFile(huge, patternChunk(0, 3 * CAP + 1));

t.test('over the retained cap, put says to use --tier ephemeral; with it the file is stored there', async (t) => {
  const refused = await runCli(['put', big, '-w', 'ws-1'], { env });
  t.equal(refused.code, 1);
  t.match(refused.stderr, /^error: cap_exceeded: .*big\.bin \(2\.0 KiB, 2000 bytes\) is larger than the retained tier's cap of 1000 B \(1000 bytes\); use --tier ephemeral \(up to 2\.9 KiB; the blob expires there\), or upload a smaller file\.\n/);
  t.notMatch(refused.stderr, /tiers\.|cap-bytes|tier=ephemeral|query parameter/, 'no server config key nor API field: words of the CLI');

  const stored = await runCli(['put', big, '-w', 'ws-1', '--tier', 'ephemeral'], { env });
  t.equal(stored.code, 0, stored.stderr);
  const ref = JSON.parse(stored.stdout.toString());
  t.match(ref['blob-ref'], { tier: 'ephemeral', store: 'ephemeral', size: 2 * CAP, sha256: patternSha256(2 * CAP) });
  t.type(ref['blob-ref']['expires-at'], 'string');
});

t.test('over the ephemeral cap, put says to upload a smaller file', async (t) => {
  const refused = await runCli(['put', huge, '-w', 'ws-1', '--tier', 'ephemeral'], { env });
  t.equal(refused.code, 1);
  t.match(refused.stderr, /^error: cap_exceeded: .*huge\.bin \(2\.9 KiB, 3001 bytes\) is larger than the ephemeral tier's cap of 2\.9 KiB \(3000 bytes\); upload a smaller file\.\n/);
  t.notMatch(refused.stderr, /--tier/);
});

t.test('--tier takes retained or ephemeral only: anything else is a usage error', async (t) => {
  const res = await runCli(['put', big, '-w', 'ws-1', '--tier', 'forever'], { env });
  t.equal(res.code, 2);
  t.match(res.stderr, /'forever' is invalid\. Allowed choices are retained, ephemeral/);
});
