import t from 'tap';
import { startFaultUpstream } from '../helpers/fault-upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

t.test("a resume after a cross-origin redirect does not carry the first origin's credential", async (t) => {
  const a = await startUpstream();
  const fu = await startFaultUpstream();
  const gw = await startGateway({ secrets: { 'allow-plain-on-url': true } }, { env: { BLOBGATE_SECRET__WS_1__TOKEN: 'bearer-for-origin-a-only' } });
  t.teardown(async () => {
    await gw.close();
    await a.stop();
    await fu.stop();
  });
  const target = `${fu.url}/f/x1/2000000?fault=reset&at=500000&ranges=1`;
  const res = await gw.step({
    request: { url: `${a.url}/redirect/302?to=${encodeURIComponent(target)}`, auth: { type: 'bearer', 'secret-ref': 'token' }, retry: { 'max-attempts': 3, 'backoff-ms': 1 } },
    persist: { type: 'blob' },
  });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(fu.ranges('x1').length, 2, 'the body was resumed');
  t.same(fu.authorizations('x1'), [undefined, undefined], 'neither the first request nor the resume carried the credential');
});
