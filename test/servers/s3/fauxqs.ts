import type { FastifyInstance } from 'fastify';

/**
 * fauxqs 1.9.2 (TESTING.md "S3: fauxqs, pinned") in-process, on 127.0.0.1
 * port 0, with two repairs made in the harness, not in the driver:
 *
 * - `startFauxqs()` listens on 0.0.0.0 whatever `host` says, and keeps its
 *   S3 state out of reach. So this builds the app with the package's public
 *   `buildApp()`, hands it an S3Store of our own (loaded by file URL from the
 *   pinned package, whose `exports` map hides it) and listens on 127.0.0.1.
 * - fauxqs has no ListMultipartUploads: `GET /bucket?uploads` falls through to
 *   ListObjects, and the SDK then reads "no uploads" whatever is in progress,
 *   so a leftover check built on it would always pass. The harness answers
 *   that request from the server's own multipart state instead, which makes
 *   ListMultipartUploadsCommand (driver sweep and tests alike) meaningful.
 */
export interface S3TestServer {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  port: number;
  /** Creates a bucket (idempotent). */
  createBucket(name: string): void;
  /** In-progress multipart uploads of a bucket, read from the server's state. */
  multipartUploads(bucket: string): MultipartUploadInfo[];
  stop(): Promise<void>;
}

export interface MultipartUploadInfo {
  key: string;
  uploadId: string;
  initiated: Date;
}

/** The parts of fauxqs's (untyped, internal) S3Store the harness uses. */
interface FauxqsS3Store {
  createBucket(name: string): void;
  hasBucket(name: string): boolean;
  multipartUploads: Map<string, { uploadId: string; bucket: string; key: string; initiated: Date }>;
}

interface FauxqsModule {
  buildApp(options: { logger: boolean; stores: { s3Store: FauxqsS3Store } }): FastifyInstance;
}

export const TEST_REGION = 'us-east-1';

export async function startS3Server(): Promise<S3TestServer> {
  const main = import.meta.resolve('fauxqs');
  const { buildApp } = (await import(main)) as FauxqsModule;
  const { S3Store } = (await import(new URL('./s3/s3Store.js', main).href)) as { S3Store: new () => FauxqsS3Store };
  const store = new S3Store();
  const app = buildApp({ logger: false, stores: { s3Store: store } });
  const uploads = (bucket: string, prefix = ''): MultipartUploadInfo[] =>
    [...store.multipartUploads.values()]
      .filter((u) => u.bucket === bucket && u.key.startsWith(prefix))
      .map((u) => ({ key: u.key, uploadId: u.uploadId, initiated: u.initiated }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  app.addHook('onRequest', async (request, reply) => {
    const url = new URL(request.url, 'http://x');
    const bucket = /^\/([^/]+)\/?$/.exec(url.pathname)?.[1];
    if (request.method !== 'GET' || bucket === undefined || !url.searchParams.has('uploads')) return;
    const name = decodeURIComponent(bucket);
    if (!store.hasBucket(name)) {
      await reply.status(404).header('content-type', 'application/xml').send(errorXml('NoSuchBucket', 'The specified bucket does not exist'));
      return;
    }
    const prefix = url.searchParams.get('prefix') ?? '';
    await reply.status(200).header('content-type', 'application/xml').send(listUploadsXml(name, prefix, uploads(name, prefix)));
  });

  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('fauxqs did not listen on a TCP port');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    createBucket: (name) => store.createBucket(name),
    multipartUploads: (bucket) => uploads(bucket),
    stop: () => app.close(),
  };
}

function listUploadsXml(bucket: string, prefix: string, list: MultipartUploadInfo[]): string {
  const items = list
    .map(
      (u) =>
        `<Upload><Key>${xml(u.key)}</Key><UploadId>${xml(u.uploadId)}</UploadId>` +
        `<Initiated>${u.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
    )
    .join('');
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Bucket>${xml(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>` +
    `<Prefix>${xml(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${items}` +
    `</ListMultipartUploadsResult>`
  );
}

export function errorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${xml(code)}</Code><Message>${xml(message)}</Message><RequestId>harness</RequestId></Error>`;
}

function xml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
