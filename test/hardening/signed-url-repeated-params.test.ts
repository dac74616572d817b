import { readdir } from 'node:fs/promises';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';

/**
 * Issue 13 item 7: a signed URL with a repeated parameter is a caller's
 * mistake (400 invalid_request), found before the stored file is opened:
 * it used to answer 500 and leave one open file descriptor per request.
 */
const gw = await startGateway();
t.teardown(() => gw.close());

const put = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads/report.bin`, { method: 'PUT', headers: { authorization: 'Bearer test-token-ws1-ws2-000000' }, body: 'stored bytes' });
const uri = ((await put.json()) as { uri: string }).uri;

const openFds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;

/** A URL blobgate signed for `filename`, with its query rewritten by `edit`. */
async function signedThen(filename: string, edit: (query: string) => string): Promise<string> {
  const signed = await gw.call('POST', '/v1/resources/url', { uri, download: true, filename });
  if (signed.status !== 200) throw new Error(`signing failed: ${JSON.stringify(signed.json)}`);
  const [base, query] = (signed.json.url as string).split('?') as [string, string];
  return `${base}?${edit(query)}`;
}

t.test('a repeated filename is invalid_request, and no file is left open', async (t) => {
  // Signed for "a,b", presented as filename=a&filename=b: a multi-valued parameter whose joined value matches.
  const url = await signedThen('a,b', (q) => q.replace('filename=a%2Cb', 'filename=a&filename=b'));
  const before = await openFds();
  const answers = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const res = await fetch(url);
    const json = (await res.json()) as { error: { code: string; details?: { field?: string } } };
    answers.add(`${res.status} ${json.error.code} ${json.error.details?.field}`);
  }
  t.same([...answers], ['400 invalid_request filename'], 'a caller mistake, not a 500, every time');
  const after = await openFds();
  t.ok(after <= before, `no descriptor leaked (before ${before}, after ${after})`);
});

t.test('every signed parameter must appear once', async (t) => {
  const cases: Array<[string, (q: string) => string]> = [
    ['expires', (q) => q.replace(/expires=(\d+)/, 'expires=$1&expires=$1')],
    ['download', (q) => `${q}&download=1`],
    ['signature', (q) => q.replace(/signature=([0-9a-f]+)/, 'signature=$1&signature=$1')],
  ];
  for (const [field, edit] of cases) {
    const res = await fetch(await signedThen('r.bin', edit));
    const json = (await res.json()) as { error: { code: string; details?: { field?: string } } };
    t.same([res.status, json.error.code, json.error.details?.field], [400, 'invalid_request', field], field);
  }
});

t.test('the URL as issued still serves the bytes with its disposition', async (t) => {
  const res = await fetch(await signedThen('a,b', (q) => q));
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-disposition'), `attachment; filename="a,b"; filename*=UTF-8''a%2Cb`);
  t.equal(await res.text(), 'stored bytes');
});
