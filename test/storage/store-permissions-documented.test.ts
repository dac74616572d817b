import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { buildConfig } from '../../src/config/load.js';

/**
 * The README's S3 and GCS permission tables list exactly what the drivers
 * call: the S3 commands and the @google-cloud/storage methods are read from
 * the driver sources and mapped to IAM actions / permissions here. A call
 * with no mapping fails, so a driver change cannot leave the table behind.
 * The README's full store examples are valid configurations.
 */
const src = new URL('../../src/storage/', import.meta.url);
const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');

async function sources(dir: string): Promise<string> {
  const names = (await readdir(new URL(`${dir}/`, src))).filter((n) => n.endsWith('.ts'));
  return (await Promise.all(names.map((n) => readFile(join(new URL(`${dir}/`, src).pathname, n), 'utf8')))).join('\n');
}

function section(title: string): string {
  const start = readme.indexOf(`\n### ${title}\n`);
  const end = readme.indexOf('\n#', start + title.length + 6);
  return readme.slice(start, end);
}

/** The first column of the section's permission table. */
function documented(text: string, pattern: RegExp): string[] {
  return [...text.matchAll(pattern)].map((m) => m[1]!).sort();
}

const S3_ACTIONS: Record<string, string[]> = {
  PutObject: ['s3:PutObject'],
  CreateMultipartUpload: ['s3:PutObject'],
  UploadPart: ['s3:PutObject'],
  CompleteMultipartUpload: ['s3:PutObject'],
  AbortMultipartUpload: ['s3:AbortMultipartUpload'],
  CopyObject: ['s3:GetObject', 's3:PutObject'],
  GetObject: ['s3:GetObject'],
  HeadObject: ['s3:GetObject'],
  DeleteObject: ['s3:DeleteObject'],
  DeleteObjects: ['s3:DeleteObject'],
  ListObjectsV2: ['s3:ListBucket'],
  HeadBucket: ['s3:ListBucket'],
  ListMultipartUploads: ['s3:ListBucketMultipartUploads'],
  GetBucketLifecycleConfiguration: ['s3:GetLifecycleConfiguration'],
  PutBucketLifecycleConfiguration: ['s3:PutLifecycleConfiguration'],
};

t.test('the S3 table lists exactly the actions of the commands the S3 driver sends', async (t) => {
  const code = await sources('s3');
  const commands = new Set([...code.matchAll(/\bnew ([A-Z][A-Za-z0-9]+)Command\(/g)].map((m) => m[1]!));
  // lib-storage's Upload sends these itself; the presigner signs a GetObject.
  if (/\bnew Upload\(/.test(code)) for (const c of ['PutObject', 'CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload', 'AbortMultipartUpload']) commands.add(c);
  t.ok(commands.has('PutObject') && commands.has('ListObjectsV2'), 'the commands were found in the sources');
  const unmapped = [...commands].filter((c) => !S3_ACTIONS[c]);
  t.same(unmapped, [], 'every command has an IAM action here');
  const actions = [...new Set([...commands].flatMap((c) => S3_ACTIONS[c] ?? []))].sort();
  t.same(documented(section('S3 store'), /^\| `(s3:[A-Za-z]+)` \|/gm), actions);
});

/** @google-cloud/storage calls (as they appear in the sources) and the permissions they need. */
const GCS_CALLS: Array<[RegExp, string[]]> = [
  [/\bbucket\.getMetadata\(/i, ['storage.buckets.get']],
  [/\bbucket\.setMetadata\(/i, ['storage.buckets.update']],
  [/(?<!bucket)\.getMetadata\(/i, ['storage.objects.get']],
  [/(?<!bucket)\.setMetadata\(/i, ['storage.objects.update']],
  [/\.getFiles\(/, ['storage.objects.list']],
  // Writing a name that exists replaces the object, which GCS allows only with delete permission.
  [/\.(save|createWriteStream|createResumableUpload)\(/, ['storage.objects.create', 'storage.objects.delete']],
  [/\.(copy|rewrite|move)\(/, ['storage.objects.get', 'storage.objects.create']],
  // objects.compose (gcs-compose.ts, sent through File.request): reads its sources, creates (or replaces) the destination.
  [/uri: '\/compose'/, ['storage.objects.get', 'storage.objects.create', 'storage.objects.delete']],
  [/\.delete\(/, ['storage.objects.delete']],
  [/\.(createReadStream|download)\(/, ['storage.objects.get']],
  [/\.getSignedUrl\(/, ['iam.serviceAccounts.signBlob']],
];
/** Client methods this test has no mapping for: using one fails until it is added above and to the README. */
const GCS_UNMAPPED = /\.(exists|makePublic|makePrivate|setStorageClass|combine|deleteFiles|upload|rename|iam\.\w+|acl\.\w+|createBucket|getBuckets|restore)\(/;

t.test('the GCS table lists exactly the permissions of the client calls the GCS driver makes', async (t) => {
  const code = await sources('gcs');
  t.equal(GCS_UNMAPPED.exec(code)?.[0], undefined, 'no client call without a mapping');
  const permissions = [...new Set(GCS_CALLS.filter(([re]) => re.test(code)).flatMap(([, p]) => p))].sort();
  t.ok(permissions.includes('storage.objects.create'), 'the calls were found in the sources');
  t.same(documented(section('GCS store'), /^\| `((?:storage|iam)\.[a-zA-Z.]+)` \|/gm), permissions);
});

t.test('the full store examples in the README are valid configurations', async (t) => {
  for (const title of ['S3 store', 'GCS store']) {
    const blocks = [...section(title).matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as unknown);
    t.equal(blocks.length, 1, `${title}: one example`);
    for (const example of blocks) t.doesNotThrow(() => buildConfig(example, {}, '/tmp'), title);
  }
});
