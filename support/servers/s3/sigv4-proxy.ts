import { timingSafeEqual, createHash, type Hash } from 'node:crypto';
import { Agent, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorXml } from './fauxqs.js';
import { type SigV4Config, verifySigV4 } from './sigv4.js';

/**
 * A SigV4-verifying reverse proxy in front of fauxqs, which verifies no
 * signatures itself (docs/testing.md#s3-fauxqs-behind-a-sigv4-verifying-proxy). Every request must carry a valid signature,
 * header-signed (`Authorization: AWS4-HMAC-SHA256 …`) or presigned
 * (`X-Amz-Signature` & co. in the query), for a known access key; else it is
 * answered as S3 would (403 SignatureDoesNotMatch / InvalidAccessKeyId /
 * AccessDenied "Request has expired", XML body) and never reaches fauxqs.
 * A valid request is streamed through both ways, not buffered. When the
 * signature covers a payload hash, the body is hashed on the way and its last
 * chunk held back until the hash matched: a body that does not match never
 * completes at fauxqs and is answered 400 XAmzContentSHA256Mismatch.
 * fauxqs ignores `response-content-disposition`; the proxy applies it to a
 * valid presigned GET itself.
 */
export interface SigV4Proxy {
  endpoint: string;
  port: number;
  /** Requests answered by the proxy itself with an error, by S3 error code. */
  readonly rejected: ReadonlyMap<string, number>;
  stop(): Promise<void>;
}

export interface SigV4ProxyOptions {
  /** fauxqs base URL, `http://127.0.0.1:PORT`. */
  target: string;
  credentials: Readonly<Record<string, string>>;
  region: string;
  now?: () => Date;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);

export async function startSigV4Proxy(opts: SigV4ProxyOptions): Promise<SigV4Proxy> {
  const target = new URL(opts.target);
  const cfg: SigV4Config = { credentials: opts.credentials, region: opts.region, service: 's3', now: opts.now ?? (() => new Date()) };
  const agent = new Agent({ keepAlive: true });
  const rejected = new Map<string, number>();
  const reject = (req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void => {
    rejected.set(code, (rejected.get(code) ?? 0) + 1);
    req.resume(); // drain what the client still sends
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = req.method === 'HEAD' ? '' : errorXml(code, message);
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': 'sigv4-proxy' });
    res.end(body);
  };

  const server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const verdict = verifySigV4(method, rawUrl, req.headers, cfg);
    if (!verdict.ok) {
      reject(req, res, verdict.status, verdict.code, verdict.message);
      return;
    }
    if (verdict.payloadHash.startsWith('STREAMING-') && verdict.payloadHash !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') {
      reject(req, res, 501, 'NotImplemented', 'Signed streaming payloads are not supported by this test proxy.');
      return;
    }
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    headers.host = target.host;
    const upstream = httpRequest({ host: target.hostname, port: target.port, method, path: rawUrl, headers, agent });
    const disposition = verdict.presigned && method === 'GET' ? verdict.query.get('response-content-disposition') : undefined;
    upstream.on('response', (upRes) => {
      const out: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(upRes.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
      const status = upRes.statusCode ?? 502;
      if (disposition !== undefined && status >= 200 && status < 300) out['content-disposition'] = disposition;
      res.writeHead(status, out);
      pipeline(upRes, res).catch(() => res.destroy());
    });
    const check = /^[0-9a-f]{64}$/.test(verdict.payloadHash) ? new PayloadCheck(verdict.payloadHash) : undefined;
    const stages = check ? pipeline(req, check, upstream) : pipeline(req, upstream);
    // fauxqs dropping the connection after the whole request went up (a fault test): the client sees the drop too.
    let sent = false;
    stages.then(
      () => (sent = true),
      () => undefined,
    );
    upstream.on('error', () => {
      if (sent) res.destroy();
    });
    stages.catch((err: unknown) => {
      upstream.destroy();
      if (err instanceof PayloadMismatch) reject(req, res, 400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
      else if (!res.headersSent) reject(req, res, 502, 'BadGateway', 'The proxied request failed.');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    rejected,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

class PayloadMismatch extends Error {}

/**
 * Passes the body through while hashing it, one chunk behind: the last chunk
 * goes out only after the sha256 of the whole body matched the signed hash,
 * so a mismatching body never arrives complete upstream.
 */
class PayloadCheck extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private held: Buffer | undefined;

  constructor(private readonly expectedHex: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    const previous = this.held;
    this.held = chunk;
    cb(null, previous);
  }

  override _flush(cb: TransformCallback): void {
    const actual = this.hash.digest();
    if (!timingSafeEqual(actual, Buffer.from(this.expectedHex, 'hex'))) {
      cb(new PayloadMismatch('payload hash mismatch'));
      return;
    }
    cb(null, this.held);
  }
}
