// The S3 test harness with a Go client: rclone's multipart uploads (8 parts,
// 4 at a time) must store every byte. fauxqs alone misreads the
// CompleteMultipartUpload body Go writes (ETag quotes as `&#34;`, element
// order varying per part) and either refused the parts or completed the
// object with some of them and answered 200; the harness repairs the body
// (support/servers/s3/fauxqs.ts). The benchmark compares blobgate with rclone on
// this server, so the repair must hold.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { canonicalCompleteBody, startS3Server, TEST_REGION } from '../../support/servers/s3/fauxqs.js';
import { listedUploads, TEST_CREDENTIALS, testClient } from '../../support/servers/s3/clients.js';
import { findRclone, rcloneEnv } from '../helpers/rclone.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

t.test('canonicalCompleteBody decodes entities and orders each part', async (t) => {
  const go =
    '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    '<Part><ETag>&#34;aa&#34;</ETag><PartNumber>1</PartNumber></Part>' +
    '<Part><PartNumber>2</PartNumber><ETag>&#34;bb&#34;</ETag></Part>' +
    '</CompleteMultipartUpload>';
  t.equal(
    canonicalCompleteBody(go),
    '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      '<Part><PartNumber>1</PartNumber><ETag>"aa"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"bb"</ETag></Part>' +
      '</CompleteMultipartUpload>',
  );
  t.equal(canonicalCompleteBody('<Delete><Object><Key>a</Key></Object></Delete>'), undefined, 'other bodies are left alone');
});

const rclone = findRclone();

t.test('rclone copyto in 8 parts stores every byte', async (t) => {
  if (!rclone) return void t.fail('rclone is not installed: `apt-get install -y rclone` (.ci/run does so). This test must not be skipped.');
  const server = await startS3Server();
  t.teardown(() => server.stop());
  const bucket = 'bg-rclone';
  server.createBucket(bucket);
  const dir = mkdtempSync(join(tmpdir(), 's3-rclone-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = randomBytes(8 * 5 * 1024 * 1024 - 12_345); // 8 parts of 5 MiB, the last one short
  const file = join(dir, 'big.bin');
  writeFileSync(file, data);
  const env = rcloneEnv(dir, {
    RCLONE_CONFIG_T_TYPE: 's3',
    RCLONE_CONFIG_T_PROVIDER: 'Other',
    RCLONE_CONFIG_T_ENDPOINT: server.endpoint,
    RCLONE_CONFIG_T_REGION: TEST_REGION,
    RCLONE_CONFIG_T_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    RCLONE_CONFIG_T_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    RCLONE_CONFIG_T_FORCE_PATH_STYLE: 'true',
    RCLONE_CONFIG_T_NO_CHECK_BUCKET: 'true',
    RCLONE_CONFIG_T_CHUNK_SIZE: '5M',
    RCLONE_CONFIG_T_UPLOAD_CUTOFF: '5M',
    RCLONE_CONFIG_T_UPLOAD_CONCURRENCY: '4',
  });
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(rclone, ['copyto', file, `t:${bucket}/data/big.bin`, '--retries', '1', '--low-level-retries', '1', '--timeout', '60s'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
  t.equal(r.code, 0, r.code === 0 ? 'rclone exited 0' : `rclone exited ${r.code}: ${r.stderr.slice(-1500)}`);
  const client = testClient(server.endpoint);
  t.teardown(() => client.destroy());
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'data/big.bin' }));
  const bytes = await got.Body!.transformToByteArray();
  t.equal(bytes.length, data.length, 'every part is in the object');
  t.equal(sha256(bytes), sha256(data), 'byte for byte');
  t.match(got.ETag ?? '', /-8"?$/, 'an 8-part multipart ETag');
  t.same(await listedUploads(client, bucket), [], 'no multipart upload left');
});
