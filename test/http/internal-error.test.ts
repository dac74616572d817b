import t from 'tap';
import { toBlobgateError } from '../../src/http/error-handler.js';

t.test('an unexpected error becomes internal (500) with none of its text', async (t) => {
  const mapped = toBlobgateError(new TypeError('cannot read x of undefined at /srv/secret/path.ts'));
  t.equal(mapped.code, 'internal');
  t.equal(mapped.status, 500);
  t.notMatch(mapped.message, /secret|undefined/);
  t.notMatch(JSON.stringify(mapped.toJSON()), /secret|path\.ts/);
});

t.test("fastify's own caller errors become invalid_request, never 500", async (t) => {
  const tooLarge = toBlobgateError(Object.assign(new Error('Request body is too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }));
  t.equal(tooLarge.code, 'invalid_request');
  const media = toBlobgateError(Object.assign(new Error('Unsupported Media Type: text/plain'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }));
  t.equal(media.code, 'invalid_request');
});
