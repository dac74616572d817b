/**
 * The S3 test server for the benchmark: fauxqs 1.9.2 built the way
 * test/servers/s3/fauxqs.ts builds it (public `buildApp()` with our own
 * S3Store, on 127.0.0.1 port 0), plus one repair that rclone needs.
 *
 * fauxqs parses CompleteMultipartUpload with two regexes and gets the
 * body Go's XML encoder (rclone 1.60, aws-sdk-go) writes wrong twice:
 * - it unescapes only named entities, while Go writes the quotes of each
 *   part's ETag as `&#34;`: every part then mismatches (InvalidPart);
 * - it expects one element order for all parts (PartNumber before ETag, or
 *   else ETag before PartNumber), while Go's order varies from part to part
 *   (map iteration): fauxqs then completes the upload with only the parts in
 *   the first order and answers 200. rclone's object silently loses parts
 *   (a 64 MiB copy stored as 8 or 16 MiB; the benchmark's sha256 check caught it).
 * Real S3 parses XML. This hook rewrites a CompleteMultipartUpload body into
 * the canonical form fauxqs reads (PartNumber then ETag, entities decoded)
 * before fauxqs sees it; the part list itself is unchanged. It touches no
 * other request; a body fauxqs already read right means the same after it.
 *
 * `startS3Server()` cannot be used as is: it starts listening before a hook
 * could be added. Nothing else differs (the multipart-listing and lifecycle
 * answers of the test harness are not needed here).
 */
import type { FastifyInstance } from 'fastify';

interface FauxqsS3Store {
  createBucket(name: string): void;
}

interface FauxqsModule {
  buildApp(options: { logger: boolean; stores: { s3Store: FauxqsS3Store } }): FastifyInstance;
}

function decodeEntities(text: string): string {
  const named: Record<string, string> = { quot: '"', apos: "'", lt: '<', gt: '>', amp: '&' };
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|quot|apos|lt|gt|amp);/g, (_, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : named[e]!,
  );
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The parts of a CompleteMultipartUpload body in canonical form, or undefined when it is something else. */
export function canonicalCompleteBody(xml: string): string | undefined {
  if (!xml.includes('<CompleteMultipartUpload')) return undefined;
  const parts: string[] = [];
  for (const m of xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
    const inner = m[1] ?? '';
    const number = /<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(inner)?.[1];
    const etag = /<ETag>([\s\S]*?)<\/ETag>/.exec(inner)?.[1];
    if (number === undefined || etag === undefined) return undefined;
    parts.push(`<Part><PartNumber>${number}</PartNumber><ETag>${escapeXml(decodeEntities(etag))}</ETag></Part>`);
  }
  return `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts.join('')}</CompleteMultipartUpload>`;
}

export async function startBenchS3Server(bucket: string): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const main = import.meta.resolve('fauxqs');
  const { buildApp } = (await import(main)) as FauxqsModule;
  const { S3Store } = (await import(new URL('./s3/s3Store.js', main).href)) as { S3Store: new () => FauxqsS3Store };
  const store = new S3Store();
  const app = buildApp({ logger: false, stores: { s3Store: store } });
  app.addHook('preHandler', async (request) => {
    if (request.method !== 'POST' || !Buffer.isBuffer(request.body) || request.body.length > 1024 * 1024) return;
    if (!/[?&]uploadId=/.test(request.url)) return;
    const canonical = canonicalCompleteBody(request.body.toString('utf8'));
    if (canonical !== undefined) request.body = Buffer.from(canonical, 'utf8');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('fauxqs did not listen on a TCP port');
  store.createBucket(bucket);
  return { endpoint: `http://127.0.0.1:${address.port}`, stop: () => app.close() };
}
