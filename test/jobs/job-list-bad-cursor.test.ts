import t from 'tap';
import { startGateway } from '../helpers/gateway.js';

// GET /v1/workspaces/:ws/jobs hands the caller's cursor to the records store.
// One it did not return (garbled, or another workspace's) is the caller's
// mistake: 400 invalid_request naming the field, never a 502 from the store
// (S3 answers a garbled ContinuationToken with 400 InvalidArgument). Every
// store checks it the same way before any call (test/contract/records-contract.ts).
const gw = await startGateway();
t.teardown(() => gw.close());

t.test('a cursor the job list did not return is 400 invalid_request', async (t) => {
  for (const cursor of ['garbage!', 'AAAA', Buffer.from('workspaces/ws-2/jobs/x.json').toString('base64url')]) {
    const res = await gw.call('GET', `/v1/workspaces/ws-1/jobs?cursor=${encodeURIComponent(cursor)}`);
    t.equal(res.status, 400, cursor);
    t.match(res.json.error, { code: 'invalid_request', details: { field: 'cursor' }, message: /start again without it/ }, cursor);
  }
  const ok = await gw.call('GET', '/v1/workspaces/ws-1/jobs');
  t.equal(ok.status, 200, 'no cursor: the first page');
});
