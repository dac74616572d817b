import t from 'tap';
import { PREVIEW_MAX_BYTES } from '../../src/shares/limits.js';
import { startGateway } from '../helpers/gateway.js';
import { getPublic, putBytes, share } from './share-helpers.js';

const gw = await startGateway();
t.teardown(() => gw.close());

/** Shares a fresh upload and answers its preview page. */
async function preview(filename: string, type: string, body: string | Buffer, extra: Record<string, unknown> = {}) {
  const uri = await putBytes(gw, filename, type, body);
  const created = await share(gw, { uri, ...extra });
  if (created.status !== 201) throw new Error(JSON.stringify(created.json));
  return getPublic(created.json.publicUrl);
}

/** The page with its fixed frame cut away: what the artifact put there. */
function article(html: string): string {
  const m = /<article[^>]*>([\s\S]*)<\/article>/.exec(html);
  return m ? m[1]! : '';
}

t.test('headers: no-store, noindex, no referrer, and a CSP under which nothing runs or loads', async (t) => {
  const page = await preview('h.md', 'text/markdown', '# h');
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html; charset=utf-8/);
  t.equal(page.headers.get('cache-control'), 'no-store');
  t.equal(page.headers.get('x-robots-tag'), 'noindex, nofollow');
  t.equal(page.headers.get('referrer-policy'), 'no-referrer');
  t.equal(page.headers.get('x-content-type-options'), 'nosniff');
  t.equal(page.headers.get('etag'), null);
  const csp = page.headers.get('content-security-policy') ?? '';
  t.match(csp, /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'$/);
  t.notMatch(csp, /script-src|unsafe/);
  t.notMatch(page.text, /<script/i, 'the page itself has no script');
  t.match(page.text, '<meta name="robots" content="noindex,nofollow">');
});

t.test('Markdown is rendered and sanitized: no tag of the source survives, no script URL is a link', async (t) => {
  const md = [
    '# Quarterly report',
    '',
    '<script>window.owned = 1</script>',
    '',
    '<img src=x onerror="window.owned=1"> <a href="javascript:alert(1)">raw</a>',
    '',
    '[click](javascript:alert(1)) [also](JAVASCRIPT:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=) [ok](https://example.org/about) [rel](/pricing)',
    '',
    '![tracker](https://tracker.example/pixel.png)',
    '',
    '| who | followers |',
    '|---|---|',
    '| ana | 1200 |',
  ].join('\n');
  const page = await preview('r.md', 'text/markdown', md);
  const body = article(page.text);
  t.match(body, '<h1>Quarterly report</h1>');
  t.match(body, '&lt;script&gt;window.owned = 1&lt;/script&gt;', 'a script tag is shown as text');
  t.notMatch(body, /<script|<img|<[^>]*\sonerror|<a href="javascript/i, 'no tag of the source is a tag of the page');
  t.notMatch(body, /href="(javascript|data):/i, 'no javascript: or data: link');
  t.match(body, '<a href="https://example.org/about" rel="nofollow noopener noreferrer">ok</a>');
  t.match(body, '<a href="/pricing"');
  t.notMatch(page.text, 'tracker.example', 'an image URL is never fetched: the alt text stands in');
  t.match(body, '<span class="image-alt">tracker</span>');
  t.match(body, '<td>ana</td><td>1200</td>'.replace('</td><td>', '</td>\n<td>'));
});

t.test('CSV is a table; JSON, EDN and XML are pretty-printed; HTML is escaped text', async (t) => {
  const csv = article((await preview('t.csv', 'text/csv', 'Who,Followers,Link\nAna,"1,200",https://example.org/ana\n"Bo ""B""",7,x\n')).text);
  t.match(csv, '<thead><tr><th>Who</th><th>Followers</th><th>Link</th></tr></thead>');
  t.match(csv, '<tr><td>Ana</td><td>1,200</td><td>https://example.org/ana</td></tr>');
  t.match(csv, '<td>Bo &quot;B&quot;</td>');
  const json = article((await preview('d.json', 'application/json', '{"a":{"b":[1,2]}}')).text);
  t.match(json, '<pre>{\n  &quot;a&quot;: {\n    &quot;b&quot;: [\n      1,\n      2\n    ]\n  }\n}</pre>');
  const edn = article((await preview('d.edn', 'application/edn', '{:invoice/id "INV-1" :lines [{:sku "a" :qty 2} {:sku "b" :qty 1} {:sku "c" :qty 9} {:sku "d" :qty 4}]}')).text);
  t.match(edn, '<pre>{\n  :invoice/id &quot;INV-1&quot;\n  :lines [\n    {:sku &quot;a&quot;, :qty 2}');
  const xml = article((await preview('d.xml', 'application/xml', '<r><a x="1">t</a><b/></r>')).text);
  t.match(xml, '<pre>&lt;r&gt;\n  &lt;a x=&quot;1&quot;&gt;t&lt;/a&gt;\n  &lt;b/&gt;\n&lt;/r&gt;</pre>');
  const broken = article((await preview('b.json', 'application/json', '{"a": ')).text);
  t.match(broken, '<pre>{&quot;a&quot;: </pre>', 'not JSON: shown as written');
  const html = await preview('p.html', 'text/html', '<h1>hi</h1><script>window.owned=1</script>');
  const htmlBody = article(html.text);
  t.equal(htmlBody, '<pre>&lt;h1&gt;hi&lt;/h1&gt;&lt;script&gt;window.owned=1&lt;/script&gt;</pre>', 'HTML is never rendered');
  const svg = article((await preview('i.svg', 'image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>')).text);
  t.notMatch(svg, /<svg|<script/);
});

t.test('images inline as a data: URI within the bound; other binaries are named only', async (t) => {
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
  const img = article((await preview('p.png', 'image/png', png)).text);
  t.equal(img, `<img alt="" src="data:image/png;base64,${png.toString('base64')}">`);
  const pdf = article((await preview('d.pdf', 'application/pdf', '%PDF-1.4 secret')).text);
  t.notMatch(pdf, 'secret');
  t.match(pdf, 'cannot be previewed');
});

t.test('the page reads at most the bound of a large artifact, and says so', async (t) => {
  const line = 'abcdefghijklmnopqrstuvwxyz0123456789\n';
  const big = line.repeat(Math.ceil((PREVIEW_MAX_BYTES * 3) / line.length));
  const page = await preview('big.txt', 'text/plain', big);
  const body = article(page.text);
  const shown = body.replace(/^<pre>|<\/pre>$/g, '');
  t.equal(shown.length, PREVIEW_MAX_BYTES, 'exactly the bound of text');
  t.match(page.text, `Only the first ${PREVIEW_MAX_BYTES / 1024} KiB of this file are shown here.`);
  // A multi-byte character cut at the bound is left out, not shown as U+FFFD.
  const euro = `${'a'.repeat(PREVIEW_MAX_BYTES - 1)}€tail`;
  const cut = article((await preview('e.txt', 'text/plain', euro)).text);
  t.notMatch(cut, '\uFFFD');
  t.equal(cut, `<pre>${'a'.repeat(PREVIEW_MAX_BYTES - 1)}</pre>`);
});

t.test('res:// refs, private content routes and signed storage URLs in the artifact are hidden', async (t) => {
  const text = [
    '# Links',
    'See res://v1/ws/ws-1/file/blob/retained/persist/x.pdf and [it](res://v1/ws/ws-1/result/blob/retained/y).',
    'Raw: https://gw.example/api/resources/content?uri=res%3A%2F%2Fx and /v1/resources/content?uri=a',
    'Signed: https://bucket.s3.amazonaws.com/k?X-Amz-Signature=abc&X-Amz-Credential=def and https://storage.googleapis.com/b/k?X-Goog-Signature=1',
    'Mine: http://127.0.0.1:8787/v1/signed/retained/workspaces/ws-1/x?expires=1&signature=2',
  ].join('\n\n');
  const page = await preview('links.md', 'text/markdown', text, { title: 'About res://v1/ws/ws-1/file/blob/retained/t' });
  for (const banned of ['res://', '/api/resources/content', '/v1/resources/content', '/v1/signed/', 'X-Amz', 'X-Goog', 'ws-1', 'workspace', 'retained']) {
    t.notMatch(page.text, banned, `no ${banned}`);
  }
  t.match(page.text, '[resource reference hidden]');
  t.match(page.text, '[private link hidden]');
});

t.test('the page holds no metadata of the resource: no workspace, store, path, hash or dates', async (t) => {
  const uri = await putBytes(gw, 'run-42-output.md', 'text/markdown', '# Output');
  const created = await share(gw, { uri });
  const page = await getPublic(created.json.publicUrl);
  const meta = (await gw.call('GET', `/v1/resources?uri=${encodeURIComponent(uri)}`)).json;
  for (const leak of ['ws-1', 'run-42', 'uploads/', meta['blob-ref'].sha256, meta['blob-ref']['created-at'].slice(0, 10), 'workspace=', 'workflow-id', 'run-id', 'debug', 'trace']) {
    t.notMatch(page.text, leak, `no ${leak}`);
  }
  t.match(page.text, '<title>Shared artifact</title>');
});

t.test('pretty-printing that would multiply a deeply nested artifact is skipped: shown as written', async (t) => {
  const depth = 60;
  const json = `${'['.repeat(depth)}${Array.from({ length: 40_000 }, () => '1').join(',')}${']'.repeat(depth)}`;
  const body = article((await preview('deep.json', 'application/json', json)).text);
  t.equal(body, `<pre>${json}</pre>`);
  const small = article((await preview('small.json', 'application/json', '[[1]]')).text);
  t.equal(small, '<pre>[\n  [\n    1\n  ]\n]</pre>');
});

t.test('Markdown past its render bound is shown as plain text, escaped', async (t) => {
  const head = '# Title\n\n' + 'word '.repeat(7000);
  const tail = '\n\n## Not rendered <b>bold</b>\n';
  const page = await preview('long.md', 'text/markdown', head + tail);
  t.equal(page.status, 200);
  const body = article(page.text);
  t.match(body, /<h1>Title<\/h1>/, 'the start is rendered');
  t.notMatch(body, /<h2>/, 'what lies past the bound is not rendered');
  t.match(body, /## Not rendered &lt;b&gt;bold&lt;\/b&gt;/, 'it is shown as escaped text');
});
