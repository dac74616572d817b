import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import busboy from 'busboy';

/**
 * A real upstream that receives request bodies: POST /hash answers
 * {sha256, size, content-type, content-length} of what arrived; POST
 * /multipart parses multipart/form-data with busboy (a real parser) and answers
 * {fields, files: [{name, filename, mime-type, sha256, size}]}.
 */
export interface Sink {
  url: string;
  /** Requests received (any path). */
  count(): number;
  stop(): Promise<void>;
}

export async function startSink(): Promise<Sink> {
  let count = 0;
  const server = createServer((req, res) => {
    count++;
    const reply = (body: unknown) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    };
    if (req.url?.startsWith('/multipart')) {
      parseMultipart(req).then(reply, (err: Error) => {
        res.statusCode = 400;
        res.end(err.message);
      });
      return;
    }
    const hash = createHash('sha256');
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      hash.update(c);
    });
    req.on('end', () => reply({ sha256: hash.digest('hex'), size, 'content-type': req.headers['content-type'], 'content-length': req.headers['content-length'] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: () => count,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function parseMultipart(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const fields: Record<string, string> = {};
    const files: Array<Record<string, unknown>> = [];
    const pending: Array<Promise<void>> = [];
    const bb = busboy({ headers: req.headers });
    bb.on('field', (name, value) => (fields[name] = value));
    bb.on('file', (name, stream, info) => {
      const hash = createHash('sha256');
      let size = 0;
      pending.push(
        new Promise((done) => {
          stream.on('data', (c: Buffer) => {
            size += c.length;
            hash.update(c);
          });
          stream.on('end', () => {
            files.push({ name, filename: info.filename, 'mime-type': info.mimeType, sha256: hash.digest('hex'), size });
            done();
          });
        }),
      );
    });
    bb.on('close', () => Promise.all(pending).then(() => resolve({ fields, files, 'content-length': req.headers['content-length'] })));
    bb.on('error', reject);
    req.pipe(bb);
  });
}
