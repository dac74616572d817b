import { ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { type S3ChecksumMode, buildS3Client } from '../../../src/storage/s3/client.js';
import { TEST_REGION } from './fauxqs.js';

export const TEST_CREDENTIALS = { accessKeyId: 'AKIDBLOBGATETEST', secretAccessKey: 'blobgate-test-secret-key' } as const;

/** A client for a loopback S3 endpoint: explicit endpoint, region and credentials, nothing from the environment. */
export function testClient(endpoint: string, opts: { credentials?: { accessKeyId: string; secretAccessKey: string }; checksumMode?: S3ChecksumMode } = {}): S3Client {
  return buildS3Client({
    region: TEST_REGION,
    endpoint,
    forcePathStyle: true,
    credentials: opts.credentials ?? TEST_CREDENTIALS,
    ...(opts.checksumMode === undefined ? {} : { checksumMode: opts.checksumMode }),
  });
}

/** `key (uploadId)` of every in-progress multipart upload under a prefix, through the S3 API. */
export async function listedUploads(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return (out.Uploads ?? []).map((u) => `${u.Key ?? '?'} (${u.UploadId ?? '?'})`);
}

/** Every object key under a prefix (all pages). */
export async function listedKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    keys.push(...(out.Contents ?? []).map((c) => c.Key ?? '?'));
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** The HTTP request as the SDK sends it (after serialization, checksums and signing). */
export interface SentRequest {
  command: string;
  method: string;
  path: string;
  query: Record<string, string | string[] | null>;
  headers: Record<string, string>;
}

type WireRequest = Omit<SentRequest, 'command'> & { body?: unknown };

/**
 * Runs `edit` on every request of `command` just before it goes on the wire
 * (deserialize step: after signing), e.g. to record it or to break it so that
 * the real server answers with an error (fault injection without mocks).
 */
export function onWire(client: S3Client, edit: (req: WireRequest, command: string) => void, name = `bg-wire-${Math.random()}`): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      edit(args.request as WireRequest, String(context.commandName ?? '?').replace(/Command$/, ''));
      return next(args);
    },
    { step: 'deserialize', name },
  );
}

/** Records every request a client sends. */
export function recordRequests(client: S3Client): SentRequest[] {
  const log: SentRequest[] = [];
  onWire(client, (req, command) => log.push({ command, method: req.method, path: req.path, query: { ...req.query }, headers: { ...req.headers } }));
  return log;
}
