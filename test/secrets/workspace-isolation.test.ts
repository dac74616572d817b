import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { envName } from '../../src/secrets/env-names.js';
import { EmbeddedSecrets } from '../../src/secrets/provider.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

// Workspaces that differ only in case and punctuation, each with a token granted only that workspace.
const WORKSPACES = ['ws-b', 'ws.b', 'ws_b', 'WS-B'];
const tokenOf = (ws: string) => `token-for-${ws}-only-0000000`;

const up = await startUpstream();
const dir = await mkdtemp(join(tmpdir(), 'bg-ws-iso-'));
const secretsFile = join(dir, 'secrets.json');
await writeFile(secretsFile, JSON.stringify({ 'WS-B': { 'file-only': 'file-secret-of-WS-B' }, 'ws.b': { 'file-only': 'file-secret-of-ws.b' } }));
const gw = await startGateway(
  { tokens: WORKSPACES.map((ws) => ({ token: tokenOf(ws), workspaces: [ws] })), secrets: { file: secretsFile, 'allow-plain-on-url': true } },
  { env: { BLOBGATE_SECRET__WS_B__TOKEN: 'env-secret-of-ws-b', BLOBGATE_SECRET__A__B__C: 'ambiguous-split-value' } },
);
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const stepIn = (ws: string, ref: string) =>
  gw.call('POST', `/v1/workspaces/${encodeURIComponent(ws)}/http`, { 'flow-slug': 'f', 'step-id': 's', request: { url: `${up.url}/echo`, auth: { type: 'bearer', 'secret-ref': ref } } }, { token: tokenOf(ws) });

t.test("a workspace never reads the environment secret of a workspace that differs only in case or punctuation", async (t) => {
  const own = await stepIn('ws-b', 'token');
  t.equal(own.status, 200, JSON.stringify(own.json));
  t.equal(own.json.body.headers.authorization, 'Bearer env-secret-of-ws-b', 'ws-b reads its own BLOBGATE_SECRET__WS_B__TOKEN');
  for (const ws of ['ws.b', 'ws_b', 'WS-B']) {
    const before = up.requests.length;
    const res = await stepIn(ws, 'token');
    t.equal(res.status, 400, ws);
    t.equal(res.json.error.code, 'secret_not_found', `${ws} does not see ws-b's secret`);
    t.match(res.json.error.message, /lower-case letters, digits and single hyphens/, 'the message says why the environment does not serve this name');
    t.equal(up.requests.length, before, 'nothing was sent upstream');
    t.notMatch(JSON.stringify(res.json), /env-secret-of-ws-b/);
  }
});

t.test('secrets file entries resolve by the exact workspace spelling', async (t) => {
  const upper = await stepIn('WS-B', 'file-only');
  t.equal(upper.json.body.headers.authorization, 'Bearer file-secret-of-WS-B');
  const dotted = await stepIn('ws.b', 'file-only');
  t.equal(dotted.json.body.headers.authorization, 'Bearer file-secret-of-ws.b');
  const lower = await stepIn('ws-b', 'file-only');
  t.equal(lower.json.error.code, 'secret_not_found', "WS-B's file entry is not ws-b's");
});

t.test('a "__" split that could be read two ways is served to neither reading', async (t) => {
  const secrets = new EmbeddedSecrets(undefined, { BLOBGATE_SECRET__A__B__C: 'ambiguous-split-value' });
  for (const [ws, ref] of [['a', 'b--c'], ['a--b', 'c'], ['a', 'b__c'], ['a_b', 'c']] as const) {
    await t.rejects(secrets.resolve(ws, ref), { code: 'secret_not_found' }, `${ws} + ${ref}`);
  }
});

t.test('the environment spelling is one-to-one on the names it serves, and absent for all others', async (t) => {
  const served = ['a', 'b', 'ab', 'a-b', 'a-b-c', 'ws-1', 'ws-12', 'x9', 'api-token', 'api-token-2'];
  const spellings = new Map<string, string>();
  for (const ws of served) {
    for (const ref of served) {
      const name = envName(ws, ref);
      t.ok(name, `${ws}/${ref} has a spelling`);
      t.notOk(spellings.has(name!), `${name} is not shared (${spellings.get(name!)} and ${ws}/${ref})`);
      spellings.set(name!, `${ws}/${ref}`);
    }
  }
  for (const name of ['ws.b', 'ws_b', 'WS-B', 'Ws-b', 'a--b', '-a', 'a-', 'ä', '']) {
    t.equal(envName(name, 'ref'), undefined, `workspace ${JSON.stringify(name)} has no spelling`);
    t.equal(envName('ws', name), undefined, `ref ${JSON.stringify(name)} has no spelling`);
  }
  t.equal(envName('ws-1', 'api-token'), 'BLOBGATE_SECRET__WS_1__API_TOKEN', 'the documented spelling is unchanged');
});

t.test('a workspace named like an Object.prototype member finds nothing there', async (t) => {
  const secrets = new EmbeddedSecrets(secretsFile, {});
  await t.rejects(secrets.resolve('constructor', 'name'), { code: 'secret_not_found' });
  await t.rejects(secrets.resolve('ws.b', 'constructor'), { code: 'secret_not_found' });
});
