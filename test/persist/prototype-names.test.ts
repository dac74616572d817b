import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

// Names a caller gives (a slot, a store) are looked up as own keys only: "constructor",
// "__proto__" or "toString" used to resolve through Object.prototype.
const up = await startUpstream();
const gw = await startGateway();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const PROTO_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];

t.test('a slot connection named after an Object.prototype member is invalid_request, not a store', async (t) => {
  for (const connection of PROTO_NAMES) {
    const before = up.requests.length;
    const res = await gw.step({ request: { url: `${up.url}/bytes/10` }, persist: { type: 'blob', slot: 's' }, slots: { s: { root: 'r', connection } } });
    t.equal(res.status, 400, connection);
    t.equal(res.json.error?.code, 'invalid_request', connection);
    t.match(res.json.error?.message, /not configured/, connection);
    t.equal(up.requests.length, before, `${connection}: refused before the upstream request`);
  }
});

t.test('persist.slot named after an Object.prototype member has no binding', async (t) => {
  for (const slot of PROTO_NAMES) {
    const before = up.requests.length;
    const res = await gw.step({ request: { url: `${up.url}/bytes/10` }, persist: { type: 'blob', slot }, slots: { s: { root: 'r' } } });
    t.equal(res.status, 400, slot);
    t.equal(res.json.error?.code, 'invalid_request', slot);
    t.match(res.json.error?.message, /has no binding/, slot);
    t.equal(up.requests.length, before, `${slot}: refused before the upstream request`);
  }
  const residue = await gw.residue();
  t.same(residue.objects, [], 'nothing was stored');
});
