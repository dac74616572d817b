// Object meta is kept as the local store keeps it, through both write paths
// (one request for a body of at most one chunk, a staged resumable upload for
// more), and comes back the same from head, read and list. Non-ASCII
// search-index text survives GCS custom metadata.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { ObjectMeta, ObjectMetaInit } from '../../src/storage/driver.js';
import { patternSha256, patternStream, sha256OfStream } from '../helpers/bytes.js';
import { CHUNK, startGcs } from './harness.js';

const gcs = await startGcs(t);
const driver = gcs.driver({ prefix: 'env-m' });
const signal = new AbortController().signal;

const META: ObjectMetaInit = {
  contentType: 'text/csv; charset=utf-8',
  tier: 'ephemeral',
  createdAt: '2026-11-22T10:00:00.000Z',
  expiresAt: '2026-11-23T10:00:00.000Z',
  storage: { slot: 'archive', root: 'reports/acme', relativePath: 'exports/Ærø/report.csv' },
  searchIndex: { text: 'invoice Ærø — 4500 € 請求書 🧾 "quoted" 100%', tags: ['q3', 'Zürich'], sourceLabel: 'crm', includeRawContent: false },
};

interface RawObject {
  name: string;
  size: string;
  contentType: string;
  metageneration: string;
  metadata?: Record<string, string>;
}

async function rawResource(name: string): Promise<RawObject> {
  const res = await fetch(`${gcs.server.url}/storage/v1/b/${gcs.bucket}/o/${encodeURIComponent(name)}`);
  if (res.status !== 200) throw new Error(`GET resource → ${res.status}`);
  return (await res.json()) as RawObject;
}

for (const [path, size] of [
  ['single request', 1000],
  ['staged resumable upload', 2 * CHUNK + 5],
] as const) {
  t.test(`meta round trips: ${path} (${size} bytes)`, async (t) => {
    const key = `workspaces/ws-m/${randomUUID()}/Ærø/report.csv`;
    const stored = await driver.write({ key, body: patternStream(size), maxBytes: size, meta: META, signal });
    const expected: ObjectMeta = { ...META, size, sha256: patternSha256(size) };
    t.same(stored, { key, meta: expected }, 'write answers with the complete meta');

    const head = await driver.head(key);
    t.same(head, { key, meta: expected }, 'head');

    const read = await driver.read(key);
    t.same(read.object, { key, meta: expected }, 'read');
    t.same(await sha256OfStream(read.body), { sha256: expected.sha256, size }, 'bytes');

    const listed = await driver.list({ prefix: key, limit: 10 });
    t.same(listed.items, [{ key, meta: expected }], 'list (meta from the listing itself)');

    const raw = await rawResource(`env-m/${key}`);
    t.equal(raw.contentType, META.contentType, 'content type in the native field');
    t.equal(raw.size, String(size), 'size in the native field');
    t.equal(raw.metageneration, '1', 'the meta was set when the object appeared, never patched after');
    t.equal(raw.metadata?.['bg-sha256'], expected.sha256, 'sha256 in custom metadata');
    t.equal(raw.metadata?.['bg-tier'], 'ephemeral');
    t.same(Object.keys(raw.metadata ?? {}).sort(), ['bg-created-at', 'bg-expires-at', 'bg-search-index', 'bg-sha256', 'bg-storage', 'bg-tier']);
    t.match(raw.metadata?.['bg-search-index'], /^[\x20-\x7e]+$/, 'stored as ASCII (percent-encoded)');
    t.same(gcs.leftovers(), [], 'no session, no staging object');
  });
}

t.test('objects written by something else still decode', async (t) => {
  const name = `env-m/workspaces/ws-m/${randomUUID()}/foreign.txt`;
  const boundary = 'b0undary';
  const body =
    `--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ name, contentType: 'text/plain', metadata: { owner: 'someone' } })}\r\n` +
    `--${boundary}\r\nContent-Type: text/plain\r\n\r\nhello\r\n--${boundary}--\r\n`;
  const res = await fetch(`${gcs.server.url}/upload/storage/v1/b/${gcs.bucket}/o?uploadType=multipart`, {
    method: 'POST',
    headers: { 'Content-Type': `multipart/related; boundary=${boundary}` },
    body,
  });
  t.equal(res.status, 200);
  const head = await driver.head(name.slice('env-m/'.length));
  t.equal(head.meta.size, 5);
  t.equal(head.meta.contentType, 'text/plain');
  t.equal(head.meta.tier, 'retained', 'tier defaults to retained');
  t.equal(head.meta.sha256, '', 'sha256 unknown');
  t.match(head.meta.createdAt, /^\d{4}-\d\d-\d\dT/, 'createdAt from the object creation time');
});
