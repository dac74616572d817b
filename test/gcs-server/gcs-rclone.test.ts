// The project's GCS test server, exercised with the real rclone binary (Go GCS client:
// X-GUploader-No-308, chunks POSTed to the session URL, header-less multipart parts,
// downloads through mediaLink). Configured through environment variables only.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGcsServer } from '../../support/servers/gcs/server.js';
import { findRclone, rcloneEnv } from '../helpers/rclone.js';
import { sha256 } from './util.js';

const rclone = findRclone();
if (!rclone) {
  t.fail('rclone is not installed: install it with `apt-get install -y rclone` (.ci/run does so). This test must not be skipped.');
} else {
  await run(rclone);
}

async function run(rcloneBin: string): Promise<void> {
  const server = await startGcsServer();
  const BUCKET = 'rclone-bucket';
  server.createBucket(BUCKET);
  const dir = mkdtempSync(join(tmpdir(), 'gcs-rclone-'));
  const children = new Set<ChildProcess>();
  t.teardown(async () => {
    for (const c of children) c.kill('SIGKILL');
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = rcloneEnv(dir, {
    RCLONE_CONFIG_GCSTEST_TYPE: 'google cloud storage',
    RCLONE_CONFIG_GCSTEST_ANONYMOUS: 'true', // no credentials, no token requests
    RCLONE_CONFIG_GCSTEST_ENDPOINT: `${server.url}/storage/v1/`,
    RCLONE_CONFIG_GCSTEST_BUCKET_POLICY_ONLY: 'true', // no predefinedAcl on uploads
  });

  interface Result {
    code: number | null;
    stdout: Buffer;
    stderr: string;
  }
  const rc = (args: string[], timeoutMs = 60_000): Promise<Result> =>
    new Promise((resolve, reject) => {
      const child = spawn(rcloneBin, [...args, '--retries', '1', '--low-level-retries', '1', '--contimeout', '10s', '--timeout', '30s'], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      const out: Buffer[] = [];
      let err = '';
      child.stdout!.on('data', (c: Buffer) => out.push(c));
      child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', code => {
        clearTimeout(timer);
        children.delete(child);
        resolve({ code, stdout: Buffer.concat(out), stderr: err });
      });
    });
  const exitMsg = (r: Result): string => (r.code === 0 ? 'rclone exited 0' : `rclone exited ${r.code}: ${r.stderr.slice(-1500)}`);
  const remote = (p: string): string => `gcstest:${BUCKET}/${p}`;

  const big = randomBytes(40 * 1024 * 1024 + 12345); // > 16 MiB: the Go client's resumable path, 3 chunks
  const small = randomBytes(100_000); // < 16 MiB: one multipart/related request
  const bigPath = join(dir, 'big.bin');
  const smallPath = join(dir, 'small.bin');
  writeFileSync(bigPath, big);
  writeFileSync(smallPath, small);
  const md5hex = (b: Buffer): string => createHash('md5').update(b).digest('hex');

  t.test('copyto a 40 MiB file: resumable chunks POSTed with X-GUploader-No-308', async t => {
    const r = await rc(['copyto', bigPath, remote('data/big.bin'), '-v', '--dump', 'headers']);
    t.equal(r.code, 0, exitMsg(r));
    t.match(r.stderr, /POST \/upload\/storage\/v1\/b\/rclone-bucket\/o\?.*uploadType=resumable/);
    t.match(r.stderr, /Content-Range: bytes 0-16777215\/\*/);
    t.match(r.stderr, /X-Guploader-No-308: yes/i);
    t.match(r.stderr, /X-Http-Status-Code-Override: 308/i);
    t.match(r.stderr, new RegExp(`Content-Range: bytes 33554432-${big.length - 1}/${big.length}`));
    t.match(r.stderr, /md5 = [0-9a-f]{32} OK|Copied \(new\)/);
    t.ok(server.objectNames(BUCKET).includes('data/big.bin'));
    t.same(server.openSessions(), []);
  });

  t.test('copyto a small file: multipart/related', async t => {
    const r = await rc(['copyto', smallPath, remote('data/small.bin'), '-v', '--dump', 'headers']);
    t.equal(r.code, 0, exitMsg(r));
    t.match(r.stderr, /uploadType=multipart/);
    t.ok(server.objectNames(BUCKET).includes('data/small.bin'));
  });

  t.test('read back: cat, copyto, ranged cat', async t => {
    const cat = await rc(['cat', remote('data/big.bin')]);
    t.equal(cat.code, 0, exitMsg(cat));
    t.equal(cat.stdout.length, big.length);
    t.equal(sha256(cat.stdout), sha256(big));
    const back = join(dir, 'back.bin');
    const cp = await rc(['copyto', remote('data/small.bin'), back]);
    t.equal(cp.code, 0, exitMsg(cp));
    t.equal(sha256(readFileSync(back)), sha256(small));
    const part = await rc(['cat', '--offset', '1000000', '--count', '54321', remote('data/big.bin'), '--dump', 'headers']);
    t.equal(part.code, 0, exitMsg(part));
    t.match(part.stderr, /Range: bytes=1000000-1054320/);
    t.match(part.stderr, /HTTP\/1\.1 206/);
    t.equal(sha256(part.stdout), sha256(big.subarray(1_000_000, 1_054_321)));
  });

  t.test('lsjson lists names, sizes and MD5 hashes', async t => {
    const r = await rc(['lsjson', '--hash', '-R', `gcstest:${BUCKET}`]);
    t.equal(r.code, 0, exitMsg(r));
    const entries = JSON.parse(r.stdout.toString()) as Array<{ Path: string; Size: number; IsDir: boolean; Hashes?: { md5?: string } }>;
    const files = entries.filter(e => !e.IsDir).sort((a, b) => (a.Path < b.Path ? -1 : 1));
    t.same(files.map(e => [e.Path, e.Size, e.Hashes?.md5]), [
      ['data/big.bin', big.length, md5hex(big)],
      ['data/small.bin', small.length, md5hex(small)],
    ]);
    t.ok(entries.some(e => e.IsDir && e.Path === 'data'), 'prefix "data/" listed as a directory');
  });

  t.test('deletefile removes the object; deleting again fails', async t => {
    const r = await rc(['deletefile', remote('data/small.bin')]);
    t.equal(r.code, 0, exitMsg(r));
    t.same(server.objectNames(BUCKET), ['data/big.bin']);
    const ls = await rc(['lsjson', '-R', `gcstest:${BUCKET}`]);
    t.same((JSON.parse(ls.stdout.toString()) as Array<{ Path: string }>).map(e => e.Path).sort(), ['data', 'data/big.bin']);
    const again = await rc(['deletefile', remote('data/small.bin')]);
    t.not(again.code, 0);
    t.match(again.stderr, /doesn't exist|not found/i);
  });
}
