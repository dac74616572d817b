import { request } from 'node:http';
import t from 'tap';
import { startGateway, TOKEN_WS1 } from '../helpers/gateway.js';

// A request refused before its body is read (token, workspace, announced size) must still
// let the client read the answer: a client that is busy sending its body (Node's own http
// client, for one) otherwise gets ECONNRESET instead of the 4xx, when the server closes a
// socket that still holds unread bytes.

const gw = await startGateway();
t.teardown(() => gw.close());

function put(path: string, token: string, bytes: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      gw.url + path,
      { method: 'PUT', agent: false, headers: { authorization: `Bearer ${token}`, connection: 'close', 'content-length': bytes } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve(`${res.statusCode} ${(JSON.parse(Buffer.concat(parts).toString()) as { error: { code: string } }).error.code}`));
        res.on('error', (err) => resolve(`threw ${err.message}`));
      },
    );
    req.on('error', (err) => resolve(`threw ${err.message}`));
    const chunk = Buffer.alloc(64 * 1024, 7);
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(sent <= bytes ? chunk : chunk.subarray(0, bytes - (sent - chunk.length)))) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

t.test('a 2 MiB upload into a workspace the token lacks gets 403, not a reset', async (t) => {
  const answers = [];
  for (let i = 0; i < 20; i++) answers.push(await put('/v1/workspaces/ws-2/uploads/x.bin', TOKEN_WS1, 2 * 1024 * 1024));
  t.same([...new Set(answers)], ['403 forbidden']);
});

t.test('a 2 MiB upload with a wrong token gets 401, not a reset', async (t) => {
  const answers = [];
  for (let i = 0; i < 20; i++) answers.push(await put('/v1/workspaces/ws-1/uploads/x.bin', 'not-a-valid-token-000000', 2 * 1024 * 1024));
  t.same([...new Set(answers)], ['401 unauthorized']);
});

t.test('nothing was stored', async (t) => {
  t.same((await gw.residue()).objects, []);
});
