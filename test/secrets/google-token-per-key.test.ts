import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startCredentialServer } from '../helpers/credential-server.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

// A service account's client_email and token_uri are not secret. ws-2 writes a key with
// ws-1's client_email and token_uri but a private key of its own: the token ws-1 minted
// must never be handed to ws-2, which has to mint (and be refused) with its own key.
const cs = await startCredentialServer({ bearer: 'b'.repeat(20), apiKey: 'k'.repeat(20), user: 'u', password: 'p'.repeat(12) });
const echo = await startUpstream();
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const forged = { ...cs.serviceAccount, private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
const dir = await mkdtemp(join(tmpdir(), 'bg-google-'));
const file = join(dir, 'secrets.json');
await writeFile(
  file,
  JSON.stringify({
    'ws-1': { sa: JSON.stringify(cs.serviceAccount) },
    'ws-2': { sa: { value: JSON.stringify(forged), hosts: [`${echo.url}/`, `${cs.url}/`] } },
  }),
);
const gw = await startGateway({ secrets: { file, 'allow-plain-on-url': true } });
t.teardown(async () => {
  await gw.close();
  await echo.stop();
  await cs.stop();
});

const scopes = ['https://www.googleapis.com/auth/drive'];
const auth = { type: 'google-service-account', 'secret-ref': 'sa', scopes };

t.test('a key with the same client_email but another private key mints its own token', async (t) => {
  const first = await gw.step({ request: { url: `${cs.url}/google`, auth } }, 'ws-1');
  t.equal(first.status, 200, 'ws-1 holds the real key');
  t.same(first.json.body, { ok: true });
  t.equal(cs.issued.size, 1);

  const second = await gw.step({ request: { url: `${echo.url}/echo`, auth } }, 'ws-2');
  t.equal(second.status, 502, "ws-2's forged key is refused by the token endpoint");
  t.equal(second.json.error.code, 'upstream_status');
  t.equal(cs.issued.size, 1, 'no token was issued to the forged key');
  t.same(echo.requests, [], "ws-2's echo never saw a request, so never ws-1's token");
  t.notMatch(JSON.stringify(second.json), /ya29\./, 'no token in the answer');

  const again = await gw.step({ request: { url: `${cs.url}/google`, auth } }, 'ws-1');
  t.equal(again.status, 200, "ws-1's cached token still serves ws-1");
  t.equal(cs.tokenRequests.length, 1, 'and was not minted again');
});
