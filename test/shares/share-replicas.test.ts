import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { getPublic, putBytes, revoke, share, startReplica } from './share-helpers.js';

/**
 * Share records live in the store, read on every lookup: a share made on one
 * replica opens on another, and a revoke on one holds at once on the other —
 * no cache to wait out. (The local store: two apps over one data directory.)
 */
const a = await startGateway();
const b = await startReplica(a);
t.teardown(async () => {
  await b.close();
  await a.close();
});

t.test('made on replica A, opened on B; revoked on A, gone on B at once', async (t) => {
  const uri = await putBytes(a, 'notes.txt', 'text/plain', 'hello from A');
  const created = await share(a, { uri, allowDownload: true });
  t.equal(created.status, 201);
  const onB = (suffix = '') => getPublic(`${b.url}/public/artifact-previews/${created.json.token}${suffix}`);
  t.equal((await onB()).status, 200);
  t.equal((await onB('/download')).text, 'hello from A');
  t.equal((await revoke(a, created.json.token)).status, 204);
  t.equal((await onB()).status, 404, 'the very next request to B is refused');
  t.equal((await onB('/download')).status, 404);
});

t.test('revoked on B (through its own API), gone on A', async (t) => {
  const uri = await putBytes(a, 'notes2.txt', 'text/plain', 'two');
  const created = await share(a, { uri });
  const del = await fetch(`${b.url}/api/resources/shares/${created.json.token}`, {
    method: 'DELETE',
    headers: { authorization: 'Bearer test-token-ws1-ws2-000000', 'x-breyta-workspace': 'ws-1' },
  });
  t.equal(del.status, 204);
  t.equal((await getPublic(created.json.publicUrl)).status, 404);
});
