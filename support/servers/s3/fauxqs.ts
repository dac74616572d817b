import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type FaultHandle, type FaultOptions, FaultPlan, Outage, type StoreFault } from '../faults.js';
import { enforceConditionalWrites } from './conditional.js';
import { type S3Operation, failS3Request, s3Operation } from './operations.js';

export type { S3Operation } from './operations.js';

/**
 * fauxqs 1.9.2 (docs/testing.md#s3-fauxqs-behind-a-sigv4-verifying-proxy) in-process, on 127.0.0.1
 * port 0, with repairs made in the harness, not in the driver:
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
 * - fauxqs has no bucket lifecycle API: `PUT /bucket?lifecycle` would be a
 *   CreateBucket, `GET` a ListObjects and `DELETE` a DeleteBucket. The harness
 *   answers Put/Get/DeleteBucketLifecycleConfiguration itself
 *   (BucketLifecycles below), keeping the XML per bucket as S3 does.
 * - fauxqs parses CompleteMultipartUpload with two regexes and gets the body
 *   Go's XML encoder (rclone, aws-sdk-go) writes wrong twice: it unescapes
 *   only named entities, while Go writes the quotes of each part's ETag as
 *   `&#34;` (every part then mismatches: InvalidPart); and it expects one
 *   element order for all parts, while Go's order varies from part to part,
 *   so fauxqs completed the upload with only the parts in the first order and
 *   answered 200 (a 64 MiB rclone copy stored as 8 or 16 MiB; the benchmark's
 *   sha256 check caught it). Real S3 parses XML. The harness rewrites such a
 *   body into the canonical form fauxqs reads (PartNumber then ETag, entities
 *   decoded) before fauxqs sees it; the part list is unchanged, and a body
 *   fauxqs already read right means the same after it
 *   (test/s3/rclone-multipart.test.ts).
 * - fauxqs ignores conditional writes (`If-None-Match: *`, `If-Match`) and
 *   overwrites: the harness enforces them, atomically per key
 *   (conditional.ts, test/s3/conditional-writes.test.ts).
 * - fauxqs's CompleteMultipartUpload hashes every part's MD5 again and
 *   concatenates the whole body into one new buffer while the client waits:
 *   5.4 s (first-touch page faults) + 1.7 s per GiB on the benchmark
 *   machine, the same finalize cost that made the GCS test server, not the
 *   tools, what the bench measured. The harness completes an upload whose
 *   request fauxqs would accept itself with the ETag from the parts' own
 *   ETags (the MD5s fauxqs computed at UploadPart) and a body concatenated
 *   on its first read; any other request goes to fauxqs's own
 *   implementation, so its errors are fauxqs's (completeWithoutCopy).
 */
export interface S3TestServer {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  port: number;
  /** Creates a bucket (idempotent). */
  createBucket(name: string): void;
  /** In-progress multipart uploads of a bucket, read from the server's state. */
  multipartUploads(bucket: string): MultipartUploadInfo[];
  /** The lifecycle configuration XML last put on a bucket, as the client sent it; undefined when none. */
  lifecycleXml(bucket: string): string | undefined;
  /**
   * Fault injection: the next matching request(s) of one operation kind
   * (support/servers/s3/operations.ts) are not carried out and get a 500
   * (InternalError) or 503 (SlowDown), or no answer at all ('drop').
   */
  fail(op: S3Operation, fault: StoreFault, opts?: FaultOptions): FaultHandle;
  /**
   * Fault injection after the fact: the next matching request(s) ARE carried
   * out (the object is committed), then the answer is lost — replaced by a
   * 500/503 or the connection dropped — as when a front end fails after the
   * backend committed. The client's retry then meets its own write.
   */
  failAfter(op: S3Operation, fault: StoreFault, opts?: FaultOptions): FaultHandle;
  /** The next `times` conditional writes get 409 ConditionalRequestConflict and are not carried out (conditional.ts). */
  conditionalConflicts(times: number): FaultHandle;
  /** Disarms every fault not yet fired. */
  clearFaults(): void;
  /** An outage: stops listening and cuts open connections; buckets, objects and uploads are kept. */
  outage(): Promise<void>;
  /** Ends the outage: listens again on the same port. */
  restore(): Promise<void>;
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
  buckets: Map<string, Map<string, FauxqsObject>>;
  hasBucket(name: string): boolean;
  multipartUploads: Map<string, FauxqsUpload>;
  multipartUploadsByBucket: Map<string, Set<string>>;
  completeMultipartUpload(uploadId: string, parts: Array<{ partNumber: number; etag: string }>): FauxqsObject;
  spy?: unknown;
}

interface FauxqsObject {
  key: string;
  body: Buffer;
  contentType?: string;
  contentLength: number;
  etag: string;
  lastModified: Date;
  metadata?: Record<string, string>;
}

interface FauxqsUpload {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: Date;
  contentType?: string;
  metadata?: Record<string, string>;
  parts: Map<number, { partNumber: number; body: Buffer; etag: string }>;
}

/** fauxqs's minimum for every part but the last (checked at CompleteMultipartUpload, as AWS does). */
const MIN_PART_SIZE = 5 * 1024 * 1024;

/**
 * CompleteMultipartUpload without fauxqs's copy and re-hash (see the list
 * above): for a request fauxqs would accept (the upload and bucket exist,
 * parts ascending, each part there with that ETag, every part but the last
 * at least 5 MiB) it stores the same object fauxqs would, but with the body
 * concatenated when first read. Anything else, and a store with a spy
 * (fauxqs's message log, unused here), goes to fauxqs itself.
 */
function completeWithoutCopy(store: FauxqsS3Store): FauxqsS3Store['completeMultipartUpload'] {
  const own = store.completeMultipartUpload.bind(store);
  return (uploadId, specs) => {
    const upload = store.multipartUploads.get(uploadId);
    const objects = upload && store.buckets.get(upload.bucket);
    if (!upload || !objects || store.spy) return own(uploadId, specs);
    const bodies: Buffer[] = [];
    const digests: Buffer[] = [];
    for (const [i, spec] of specs.entries()) {
      const part = upload.parts.get(spec.partNumber);
      const bare = part?.etag.replaceAll('"', '');
      const fine =
        part !== undefined &&
        (i === 0 || spec.partNumber > specs[i - 1]!.partNumber) &&
        bare === spec.etag.replaceAll('"', '') &&
        /^[0-9a-f]{32}$/.test(bare) &&
        (i === specs.length - 1 || part.body.length >= MIN_PART_SIZE);
      if (!fine) return own(uploadId, specs);
      bodies.push(part.body);
      digests.push(Buffer.from(bare, 'hex'));
    }
    let parts: Buffer[] | undefined = bodies;
    let whole: Buffer | undefined;
    const obj: FauxqsObject = {
      key: upload.key,
      get body(): Buffer {
        whole ??= Buffer.concat(parts!);
        parts = undefined;
        return whole;
      },
      contentType: upload.contentType,
      contentLength: bodies.reduce((n, b) => n + b.length, 0),
      etag: `"${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${specs.length}"`,
      lastModified: new Date(),
      metadata: upload.metadata,
    } as FauxqsObject;
    objects.set(upload.key, obj);
    store.multipartUploads.delete(uploadId);
    store.multipartUploadsByBucket.get(upload.bucket)?.delete(uploadId);
    return obj;
  };
}

interface FauxqsModule {
  buildApp(options: { logger: boolean; stores: { s3Store: FauxqsS3Store } }): FastifyInstance;
}

export const TEST_REGION = 'us-east-1';

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

export async function startS3Server(): Promise<S3TestServer> {
  const main = import.meta.resolve('fauxqs');
  const { buildApp } = (await import(main)) as FauxqsModule;
  const { S3Store } = (await import(new URL('./s3/s3Store.js', main).href)) as { S3Store: new () => FauxqsS3Store };
  const store = new S3Store();
  store.completeMultipartUpload = completeWithoutCopy(store);
  const app = buildApp({ logger: false, stores: { s3Store: store } });
  const uploads = (bucket: string, prefix = ''): MultipartUploadInfo[] =>
    [...store.multipartUploads.values()]
      .filter((u) => u.bucket === bucket && u.key.startsWith(prefix))
      .map((u) => ({ key: u.key, uploadId: u.uploadId, initiated: u.initiated }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  const lifecycle = new BucketLifecycles((name) => store.hasBucket(name));
  const faults = new FaultPlan<S3Operation>();
  const lateFaults = new FaultPlan<S3Operation>();
  const losesAnswer = new WeakMap<FastifyRequest, StoreFault>();

  // First hook: a fault armed for the request's operation answers it before anything else runs.
  app.addHook('onRequest', async (request, reply) => {
    const op = s3Operation(request.method, request.url, request.headers);
    const fault = op === undefined ? undefined : faults.take(op);
    if (fault !== undefined) {
      await failS3Request(request, reply, fault);
      return;
    }
    const late = op === undefined ? undefined : lateFaults.take(op);
    if (late !== undefined) losesAnswer.set(request, late);
  });
  // A late fault: the handler ran (and committed); its answer never reaches the client.
  app.addHook('onSend', async (request, reply, payload) => {
    const fault = losesAnswer.get(request);
    if (fault === undefined) return payload;
    if (fault === 'drop') {
      request.raw.socket.destroy();
      return payload;
    }
    reply.removeHeader('etag');
    reply.status(fault).header('content-type', 'application/xml');
    return errorXml(fault === 503 ? 'SlowDown' : 'InternalError', 'The answer was lost after the request was carried out (injected).');
  });
  const conditional = enforceConditionalWrites(app, { etag: (bucket, key) => store.buckets.get(bucket)?.get(key)?.etag });

  app.addHook('onRequest', async (request, reply) => {
    const url = new URL(request.url, 'http://x');
    const bucket = /^\/([^/]+)\/?$/.exec(url.pathname)?.[1];
    if (bucket !== undefined && url.searchParams.has('lifecycle')) {
      await lifecycle.handle(request, reply, decodeURIComponent(bucket));
      return;
    }
    if (request.method !== 'GET' || bucket === undefined || !url.searchParams.has('uploads')) return;
    const name = decodeURIComponent(bucket);
    if (!store.hasBucket(name)) {
      await reply.status(404).header('content-type', 'application/xml').send(errorXml('NoSuchBucket', 'The specified bucket does not exist'));
      return;
    }
    const prefix = url.searchParams.get('prefix') ?? '';
    await reply.status(200).header('content-type', 'application/xml').send(listUploadsXml(name, prefix, uploads(name, prefix)));
  });

  app.addHook('preHandler', async (request) => {
    if (request.method !== 'POST' || !Buffer.isBuffer(request.body) || request.body.length > 1024 * 1024) return;
    if (!/[?&]uploadId=/.test(request.url)) return;
    const canonical = canonicalCompleteBody(request.body.toString('utf8'));
    if (canonical !== undefined) request.body = Buffer.from(canonical, 'utf8');
  });

  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('fauxqs did not listen on a TCP port');
  const outage = new Outage(app.server, address.port, '127.0.0.1');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    createBucket: (name) => store.createBucket(name),
    multipartUploads: (bucket) => uploads(bucket),
    lifecycleXml: (bucket) => lifecycle.xml(bucket),
    fail: (op, fault, opts) => faults.inject(op, fault, opts),
    failAfter: (op, fault, opts) => lateFaults.inject(op, fault, opts),
    conditionalConflicts: (times) => conditional.conflict(times),
    clearFaults: () => {
      faults.clear();
      lateFaults.clear();
    },
    outage: () => outage.start(),
    restore: () => outage.end(),
    stop: async () => {
      await outage.end(); // fastify's close expects a listening server
      await app.close();
    },
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

/**
 * Put/Get/DeleteBucketLifecycleConfiguration (`/bucket?lifecycle`), which
 * fauxqs lacks. The XML is kept per bucket as the client sent it and given
 * back on GET, like S3 (which answers with its own normalised rendering of the
 * same rules). A PUT is checked the way S3 checks it where the checks are
 * cheap and catch client bugs: a Content-MD5 or x-amz-checksum-* header is
 * required, the root must be LifecycleConfiguration with 1..1000 rules, rule
 * IDs must be unique, and legacy rules (`Rule/Prefix`) cannot be mixed with
 * `Rule/Filter` rules ("Filter element can only be used in Lifecycle V2").
 */
class BucketLifecycles {
  private readonly configs = new Map<string, { xml: string; minimumObjectSize: string }>();

  constructor(private readonly hasBucket: (name: string) => boolean) {}

  xml(bucket: string): string | undefined {
    return this.configs.get(bucket)?.xml;
  }

  async handle(request: FastifyRequest, reply: FastifyReply, bucket: string): Promise<void> {
    const body = await readRaw(request);
    const fail = async (status: number, code: string, message: string): Promise<void> => {
      await reply.status(status).header('content-type', 'application/xml').send(errorXml(code, message));
    };
    if (!this.hasBucket(bucket)) return fail(404, 'NoSuchBucket', 'The specified bucket does not exist');
    const headers = request.headers;
    switch (request.method) {
      case 'GET': {
        const config = this.configs.get(bucket);
        if (!config) return fail(404, 'NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist');
        await reply
          .status(200)
          .header('content-type', 'application/xml')
          .header('x-amz-transition-default-minimum-object-size', config.minimumObjectSize)
          .send(config.xml);
        return;
      }
      case 'PUT': {
        const hasChecksum = headers['content-md5'] !== undefined || Object.keys(headers).some((h) => h.startsWith('x-amz-checksum-') || h === 'x-amz-trailer');
        if (!hasChecksum) return fail(400, 'InvalidRequest', 'Missing required header for this request: Content-MD5');
        const encoding = String(headers['content-encoding'] ?? '');
        const xmlText = (encoding.includes('aws-chunked') ? decodeAwsChunked(body) : body).toString('utf8');
        const problem = lifecycleProblem(xmlText);
        if (problem) return fail(400, problem.code, problem.message);
        const size = headers['x-amz-transition-default-minimum-object-size'];
        const minimumObjectSize = typeof size === 'string' && size !== '' ? size : 'all_storage_classes_128K'; // S3's default
        this.configs.set(bucket, { xml: xmlText, minimumObjectSize });
        await reply.status(200).header('x-amz-transition-default-minimum-object-size', minimumObjectSize).send('');
        return;
      }
      case 'DELETE':
        this.configs.delete(bucket);
        await reply.status(204).send();
        return;
      default:
        return fail(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
  }
}

/** What S3 would refuse in a lifecycle configuration (the subset the harness checks), or undefined. */
function lifecycleProblem(text: string): { code: string; message: string } | undefined {
  const malformed = { code: 'MalformedXML', message: 'The XML you provided was not well-formed or did not validate against our published schema' };
  if (!/^\s*(<\?xml[^>]*\?>\s*)?<LifecycleConfiguration[\s>][\s\S]*<\/LifecycleConfiguration>\s*$/.test(text)) return malformed;
  const rules = [...text.matchAll(/<Rule>([\s\S]*?)<\/Rule>/g)].map((m) => m[1] ?? '');
  if (rules.length === 0 || rules.length > 1000) return malformed;
  const ids = new Set<string>();
  let legacy = false;
  let v2 = false;
  for (const rule of rules) {
    if (!/<Status>(Enabled|Disabled)<\/Status>/.test(rule)) return malformed;
    const id = /<ID>([\s\S]*?)<\/ID>/.exec(rule)?.[1];
    if (id !== undefined) {
      if (id.length > 255) return { code: 'InvalidArgument', message: 'ID length should not exceed allowed limit of 255' };
      if (ids.has(id)) return { code: 'InvalidArgument', message: 'Rule ID must be unique. Found same ID for more than one rule' };
      ids.add(id);
    }
    if (/<Filter\s*\/>|<Filter>/.test(rule)) v2 = true;
    if (/<Prefix\s*\/>|<Prefix>/.test(rule.replace(/<Filter>[\s\S]*?<\/Filter>/g, ''))) legacy = true;
  }
  if (legacy && v2) return { code: 'InvalidRequest', message: 'Filter element can only be used in Lifecycle V2.' };
  return undefined;
}

async function readRaw(request: FastifyRequest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request.raw) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `aws-chunked` framing: `<hex size>[;ext]\r\n<data>\r\n` … `0\r\n<trailers>\r\n\r\n`. */
function decodeAwsChunked(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const eol = buf.indexOf('\r\n', offset);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(offset, eol).toString('ascii').split(';')[0] ?? '', 16);
    if (!(size > 0)) break;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    offset = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
