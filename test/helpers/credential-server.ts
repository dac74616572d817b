import { createVerify, generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real upstream that checks credentials: /bearer, /api-key-header,
 * /api-key-query, /basic answer 200 {"ok": true} only when the credential
 * equals the one given, else 401. /token is an OAuth token endpoint for the
 * JWT bearer grant: it verifies the assertion's RS256 signature with the
 * service account's public key and its claims, then issues a token.
 */
export interface CredentialServer {
  url: string;
  serviceAccount: { client_email: string; private_key: string; token_uri: string; private_key_id: string };
  tokenRequests: Array<{ scope: string; aud: string }>;
  /** Tokens this endpoint issued: /google answers 200 only for one of them. */
  issued: Set<string>;
  stop(): Promise<void>;
}

export async function startCredentialServer(expect: { bearer: string; apiKey: string; user: string; password: string }): Promise<CredentialServer> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const tokenRequests: CredentialServer['tokenRequests'] = [];
  const issued = new Set<string>();
  let counter = 0;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const ok = (good: boolean) => {
      res.statusCode = good ? 200 : 401;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: good }));
    };
    switch (url.pathname) {
      case '/bearer':
        return ok(req.headers.authorization === `Bearer ${expect.bearer}`);
      case '/api-key-header':
        return ok(req.headers['x-api-key'] === expect.apiKey);
      case '/api-key-query':
        return ok(url.searchParams.get('key') === expect.apiKey);
      case '/basic':
        return ok(req.headers.authorization === `Basic ${Buffer.from(`${expect.user}:${expect.password}`).toString('base64')}`);
      case '/google':
        return ok(issued.has((req.headers.authorization ?? '').replace(/^Bearer /, '')));
      case '/token': {
        const form = new URLSearchParams(await text(req));
        const [h, c, sig] = (form.get('assertion') ?? '').split('.');
        const claims = JSON.parse(Buffer.from(c ?? '', 'base64url').toString()) as { iss: string; aud: string; scope: string; exp: number; iat: number };
        const valid =
          form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer' &&
          createVerify('RSA-SHA256').update(`${h}.${c}`).verify(publicKey, Buffer.from(sig ?? '', 'base64url')) &&
          claims.iss === 'sa@test.iam.gserviceaccount.com' &&
          claims.aud === `${address()}/token` &&
          claims.exp > Date.now() / 1000;
        if (!valid) {
          res.statusCode = 400;
          return res.end('{"error":"invalid_grant"}');
        }
        tokenRequests.push({ scope: claims.scope, aud: claims.aud });
        const token = `ya29.test-${++counter}`;
        issued.add(token);
        res.setHeader('content-type', 'application/json');
        return res.end(JSON.stringify({ access_token: token, expires_in: 3600, token_type: 'Bearer' }));
      }
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: address(),
    serviceAccount: {
      client_email: 'sa@test.iam.gserviceaccount.com',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      private_key_id: 'key-1',
      token_uri: `${address()}/token`,
    },
    tokenRequests,
    issued,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function text(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}
