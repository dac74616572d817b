import t from 'tap';
import { parseResourceUri } from '../../src/refs/resource-uri.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const stored = await gw.step({ request: { url: `${up.url}/bytes/12?type=text/plain&ascii=1` }, persist: { type: 'blob', path: 'notes', filename: 'analyst note.md' } });
const fileUri: string = stored.json.uri;
const resultUri = fileUri.replace('/file/blob/', '/result/blob/');
const q = (uri: string) => encodeURIComponent(uri);

t.test('the result/blob form names the same blob as the file/blob form blobgate answers with', async (t) => {
  t.equal(stored.status, 200);
  t.match(fileUri, /^res:\/\/v1\/ws\/ws-1\/file\/blob\/retained\/persist\//);
  t.same(parseResourceUri(resultUri), parseResourceUri(fileUri));
  const described = await gw.call('GET', `/v1/resources?uri=${q(resultUri)}`);
  t.equal(described.status, 200);
  t.equal(described.json.uri, fileUri, 'the answer names the blob in blobgate\'s own form');
  const content = await fetch(`${gw.url}/v1/resources/content?uri=${q(resultUri)}`, { headers: { authorization: `Bearer ${TOKEN_ALL}` } });
  t.equal(content.status, 200);
  t.equal((await content.arrayBuffer()).byteLength, 12);
  const signed = await gw.call('POST', '/v1/resources/url', { uri: resultUri });
  t.equal(signed.status, 200);
  t.match(signed.json.url, /\/v1\/signed\//);
});

t.test('body-from-ref takes the result/blob form', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/echo`, method: 'post', 'body-from-ref': { uri: resultUri } } });
  t.equal(res.status, 200);
  t.equal(res.json.body.body.length, 12, 'the stored bytes were sent upstream');
});

t.test('a result/blob URI of another workspace is forbidden, like the file form', async (t) => {
  const other = resultUri.replace('/ws/ws-1/', '/ws/ws-9/');
  const res = await gw.call('GET', `/v1/resources?uri=${q(other)}`);
  t.equal(res.status, 403);
  t.equal(res.json.error.code, 'forbidden');
});

t.test('forms blobgate cannot serve are invalid_request saying why', async (t) => {
  const table = await gw.call('GET', `/v1/resources?uri=${q('res://v1/ws/ws-1/result/table/tbl_orders')}`);
  t.equal(table.status, 400);
  t.equal(table.json.error.code, 'invalid_request');
  t.match(table.json.error.message, /table resource; blobgate stores blobs only/);
  // The output-artifacts guide abbreviates result URIs to a file name; blobgate's always carry the store and path.
  const short = await gw.call('GET', `/v1/resources?uri=${q('res://v1/ws/ws-1/result/blob/monthly-report.pdf')}`);
  t.equal(short.status, 400);
  t.equal(short.json.error.code, 'invalid_request');
  t.match(short.json.error.message, /names no store and path/);
  const kind = await gw.call('GET', `/v1/resources?uri=${q('res://v1/ws/ws-1/job/blob/retained/x')}`);
  t.equal(kind.status, 400);
  t.match(kind.json.error.message, /file\/blob\/<store>\/<path> \(or …\/result\/blob\/<store>\/<path>\)/);
  const del = await gw.call('DELETE', `/v1/resources?uri=${q('res://v1/ws/ws-1/result/table/tbl_orders')}`);
  t.equal(del.status, 400, 'delete refuses a table URI rather than answering 204 for it');
});

t.test('deleting by the result/blob form removes the blob', async (t) => {
  const del = await gw.call('DELETE', `/v1/resources?uri=${q(resultUri)}`);
  t.equal(del.status, 204);
  const gone = await gw.call('GET', `/v1/resources?uri=${q(fileUri)}`);
  t.equal(gone.status, 404);
});
