import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';

/** A real upstream on 127.0.0.1 answering each path with the body and content type registered for it. */
const bodies = new Map<string, { type: string; body: string }>();
const server = createServer((req, res) => {
  const found = bodies.get(req.url ?? '');
  if (!found) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': found.type, 'content-length': Buffer.byteLength(found.body) }).end(found.body);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const gw = await startGateway();
t.teardown(async () => {
  await gw.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

let n = 0;
function serve(type: string, body: string): string {
  const path = `/doc/${++n}`;
  bodies.set(path, { type, body });
  return `${base}${path}`;
}

async function inline(type: string, body: string, responseAs?: string) {
  return gw.step({ request: { url: serve(type, body), ...(responseAs ? { 'response-as': responseAs } : {}) } });
}

t.test('auto parses application/edn into the documented JSON', async (t) => {
  const edn = `;; a comment
{:status :active, :ns/kw 1, "s" [1 2.5 nil true], sym #{:x}, :list (a b/c), 3 \\(
 :big 12345678901234567890123N, :small 12N, :huge -98765432109876543210, :safe 9007199254740991, :at #inst "2026-01-02T03:04:05Z"
 :id #uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", :custom #my/tag {:v #_ :skipped 2}, :chars [\\a \\space \\"]}`;
  const res = await inline('application/edn; charset=utf-8', edn);
  t.equal(res.status, 200);
  t.strictSame(res.json.body, {
    status: 'active',
    'ns/kw': 1,
    s: [1, 2.5, null, true],
    sym: ['x'],
    list: ['a', 'b/c'],
    '3': '(',
    big: '12345678901234567890123',
    small: 12,
    huge: '-98765432109876543210',
    safe: 9007199254740991,
    at: '2026-01-02T03:04:05.000Z',
    id: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
    custom: { tag: 'my/tag', value: { v: 2 } },
    chars: ['a', ' ', '"'],
  });
  const asText = await inline('application/edn', '{:a 1}', 'text');
  t.equal(asText.json.body, '{:a 1}', 'response-as text still returns the string');
  const forced = await inline('text/plain', '[:a]', 'edn');
  t.same(forced.json.body, ['a'], 'response-as edn parses whatever the content type');
});

t.test('malformed EDN is response_unparseable naming the line and column', async (t) => {
  const cases: Array<[string, RegExp, number]> = [
    ['{:a 1\n :b [2 3}', /"}" closes a collection opened with a different bracket at line 2, column 5 at line 2, column 9/, 2],
    ['{:a 1\n :b}', /map holds a key without a value at line 2, column 4/, 2],
    ['[1 2]\n[3]', /more than one top-level form at line 2, column 1/, 2],
    ['(1 2', /never closed/, 1],
    ['"abc', /string that is never closed at line 1, column 1/, 1],
    ['["a\\q"]', /unknown string escape/, 1],
    [']', /unexpected "\]"/, 1],
  ];
  for (const [edn, message, line] of cases) {
    const res = await inline('application/edn', edn);
    t.equal(res.status, 502, edn);
    t.equal(res.json.error.code, 'response_unparseable');
    t.match(res.json.error.message, message, edn);
    t.equal(res.json.error.details.line, line, edn);
    t.type(res.json.error.details.offset, 'number');
  }
  const dup = await inline('application/edn', '{:a 1 "a" 2}');
  t.equal(dup.json.error.code, 'response_unparseable', 'keys that collide as strings are refused, not dropped');
  t.match(dup.json.error.message, /"a" twice/);
});

t.test('deeply nested EDN and XML are refused without overflowing the stack', async (t) => {
  const depth = 20_000; // 180,000 bytes of XML: under the inline limit
  const edn = await inline('application/edn', '['.repeat(depth) + ']'.repeat(depth));
  t.equal(edn.status, 502);
  t.equal(edn.json.error.code, 'response_unparseable');
  t.match(edn.json.error.message, /nesting deeper than 512 levels/);
  const xml = await inline('application/xml', '<a>'.repeat(depth) + '</a>'.repeat(depth));
  t.equal(xml.status, 502);
  t.equal(xml.json.error.code, 'response_unparseable');
  t.match(xml.json.error.message, /deeper than 512 levels/);
  const ok = await inline('application/edn', '['.repeat(512) + ']'.repeat(512));
  t.equal(ok.status, 200, '512 levels are accepted');
  const okXml = await inline('text/xml', '<a>'.repeat(500) + 'x' + '</a>'.repeat(500));
  t.equal(okXml.status, 200, '500 elements deep are accepted');
});

t.test('auto parses application/xml, text/xml and +xml into the documented JSON', async (t) => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<!-- feed -->
<feed xmlns:x="urn:x" version="2">
  <title>Orders &amp; more &#65;&#x42;</title>
  <entry id="1"><x:n>10</x:n></entry>
  <entry id="2"><x:n>20</x:n></entry>
  <note lang="en">hello <b>world</b></note>
  <raw><![CDATA[<not-a-tag> &amp;]]></raw>
  <empty/>
</feed>`;
  for (const type of ['application/xml', 'text/xml; charset=utf-8', 'application/atom+xml']) {
    const res = await inline(type, xml);
    t.equal(res.status, 200, type);
    t.strictSame(
      res.json.body,
      {
        feed: {
          '@xmlns:x': 'urn:x',
          '@version': '2',
          title: 'Orders & more AB',
          entry: [
            { '@id': '1', 'x:n': '10' },
            { '@id': '2', 'x:n': '20' },
          ],
          note: { '@lang': 'en', '#text': 'hello', b: 'world' },
          raw: '<not-a-tag> &amp;',
          empty: '',
        },
      },
      type,
    );
  }
});

t.test('malformed XML is response_unparseable naming the line and column', async (t) => {
  const res = await inline('application/xml', '<a>\n  <b>\n</a>');
  t.equal(res.status, 502);
  t.equal(res.json.error.code, 'response_unparseable');
  t.match(res.json.error.message, /Expected closing tag 'b'.*line 3, column 1/);
  t.equal(res.json.error.details.line, 3);
  t.equal(res.json.error.details.column, 1);
});

t.test('XML entities declared in a DOCTYPE are never expanded (no billion laughs, no XXE)', async (t) => {
  const laughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz a="&lol3;">&lol3;</lolz>`;
  const bomb = await inline('application/xml', laughs);
  t.equal(bomb.status, 200);
  t.same(bomb.json.body, { lolz: { '@a': '&lol3;', '#text': '&lol3;' } }, 'references stay as written');
  const xxe = await inline('application/xml', '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>');
  t.equal(xxe.status, 502, 'a document declaring an external entity is refused; nothing is fetched or read');
  t.equal(xxe.json.error.code, 'response_unparseable');
  t.match(xxe.json.error.message, /External entities are not supported/);
  t.notMatch(JSON.stringify(xxe.json), /root:/, 'no file content reaches the answer');
  const internal = await inline('application/xml', '<!DOCTYPE r [<!ENTITY e "boom">]><r>&e;</r>');
  t.same(internal.json.body, { r: '&e;' }, 'even a harmless internal entity is left alone');
});

t.test('an empty EDN or XML body is null', async (t) => {
  t.equal((await inline('application/edn', '  \n')).json.body, null);
  t.equal((await inline('application/xml', '')).json.body, null);
});
