import t from 'tap';
import { startGateway } from '../helpers/gateway.js';

t.test('a step multipart part with a filename or content-type that is not a string is invalid_request', async (t) => {
  const gw = await startGateway();
  t.teardown(() => gw.close());
  for (const part of [{ name: 'f', value: 'x', filename: 123 }, { name: 'f', value: 'x', filename: ['a'] }, { name: 'f', value: 'x', 'content-type': 5 }]) {
    const res = await gw.step({ request: { url: 'http://127.0.0.1:9/x', method: 'post', multipart: [part] } });
    t.equal(res.json.error.code, 'invalid_request', JSON.stringify(part));
  }
});
