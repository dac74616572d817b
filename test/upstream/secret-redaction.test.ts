import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';

const SECRET = 'super-secret-value-4f9a2c';
const logs: string[] = [];
// An upstream that echoes the credential back in an error body — the worst case for leaks.
const echo = createServer((req, res) => {
  res.statusCode = 401;
  res.end(`invalid token ${req.headers.authorization ?? ''} for ${req.url}`);
});
await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
const gw = await startGateway(
  { 'log-level': 'trace', secrets: { 'allow-plain-on-url': true } },
  { env: { BLOBGATE_SECRET__WS_1__TOKEN: SECRET }, logger: { level: 'trace', stream: { write: (line: string) => logs.push(line) } } },
);
t.teardown(async () => {
  await gw.close();
  await new Promise<void>((r) => echo.close(() => r()));
});

t.test('a secret never appears in responses, error excerpts, resource metadata or logs', async (t) => {
  const failed = await gw.step({ request: { url: `${url}/x`, auth: { type: 'bearer', 'secret-ref': 'token' } } });
  t.equal(failed.json.error.code, 'upstream_status');
  t.equal(failed.json.error.details.excerpt, 'invalid token Bearer [redacted] for /x', 'the echoed secret is scrubbed from the excerpt');
  const viaQuery = await gw.step({ request: { url: `${url}/q`, auth: { type: 'api-key', 'secret-ref': 'token', query: 'k' } } });
  t.equal(viaQuery.json.error.details.excerpt, 'invalid token  for /q?k=[redacted]');
  const notFound = await gw.step({ request: { url: `${url}/x`, auth: { type: 'bearer', 'secret-ref': 'missing' } } });
  t.equal(notFound.json.error.code, 'secret_not_found');
  const everything = JSON.stringify([failed.json, viaQuery.json, notFound.json]);
  t.notMatch(everything, SECRET);
  t.ok(logs.length > 5, 'the log was captured at trace level');
  t.notMatch(logs.join('\n'), SECRET, 'no log line holds the secret');
});
