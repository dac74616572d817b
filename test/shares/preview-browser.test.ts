import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import t, { type Test } from 'tap';
import { TEST_CREDENTIALS } from '../../support/servers/s3/clients.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { getPublic, putBytes, revoke, share } from './share-helpers.js';

/**
 * The seeds' production smoke check of a public preview, in a real browser:
 * headless Chromium from Debian (installed by .ci/run; BLOBGATE_TEST_CHROMIUM
 * names another binary), driven by puppeteer-core, in a fresh incognito
 * context with no login. A machine without the browser fails here, loudly.
 */
const CHROMIUM = process.env.BLOBGATE_TEST_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  throw new Error(`No Chromium at ${CHROMIUM}: install the Debian package (apt-get install chromium; .ci/run does) or set BLOBGATE_TEST_CHROMIUM to a Chromium binary.`);
}

const gw = await startGateway();
// The same check on S3 (fauxqs behind the SigV4 front), whose endpoint is a host the page must not name.
const s3 = await startProxiedS3('bg-preview');
process.env.BG_TEST_S3_KEY = TEST_CREDENTIALS.accessKeyId;
process.env.BG_TEST_S3_SECRET = TEST_CREDENTIALS.secretAccessKey;
const onS3 = await startGateway({
  stores: {
    bg: { driver: 's3', bucket: 'bg-preview', endpoint: s3.proxy.endpoint, 'force-path-style': true, credentials: { 'access-key-id': 'env:BG_TEST_S3_KEY', 'secret-access-key': 'env:BG_TEST_S3_SECRET' } },
  },
  tiers: { retained: { store: 'bg' }, ephemeral: { store: 'bg' } },
});
const browser: Browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
t.teardown(async () => {
  await browser.close();
  await gw.close();
  await onS3.close();
  await s3.stop();
});

/** The page's globals these checks read (the project's TypeScript has no DOM library). */
interface Page {
  owned?: boolean;
  getComputedStyle(el: unknown): { display: string };
}

/** What the seed's check searches the HTML for; none may appear. */
const BANNED = ['res://', '/api/resources/content', 'workspace=', 'workflow-id', 'run-id', 'debug', 'trace', 'X-Goog', 'X-Amz'];

const REPORT = [
  '# Creator opportunity',
  '',
  'A short report for **Ana**. Source: res://v1/ws/ws-1/file/blob/retained/persist/raw.edn',
  '',
  '<script>window.owned = true</script>',
  '',
  '[Run this](javascript:window.owned=true) · [About us](https://example.org/about)',
  '',
  '| Who | Followers |',
  '|---|---|',
  '| Ana | 1200 |',
  '',
].join('\n');

/** The seeds' production smoke check against `gw`, whose store is reached at `storeHost`; the screenshot is `<name>.png`. */
async function smokeCheck(t: Test, gw: Gateway, storeHost: string, name: string): Promise<void> {
  const uri = await putBytes(gw, 'creator-report.md', 'text/markdown', REPORT);
  const created = await share(gw, { uri, title: 'Creator preview', ttlSeconds: 3600, claimUrl: '/signup?source=creator-preview', allowDownload: true });
  t.equal(created.status, 201);
  const { token, publicUrl, publicDownloadUrl } = created.json;

  const context = await browser.createBrowserContext();
  t.teardown(() => context.close());
  const page = await context.newPage();
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/content security policy/i.test(m.text())) violations.push(m.text());
  });
  const response = await page.goto(publicUrl, { waitUntil: 'load' });
  t.equal(response?.status(), 200);
  t.equal(response?.headers()['cache-control'], 'no-store');
  t.equal(response?.headers()['x-robots-tag'], 'noindex, nofollow');

  // The safe human-facing content renders: the heading and the table are on screen.
  const heading = await page.$eval('article h1', (el) => ({ text: el.textContent, height: el.getBoundingClientRect().height }));
  t.equal(heading.text, 'Creator opportunity');
  t.ok(heading.height > 0, 'the heading is laid out, not hidden');
  t.same(await page.$$eval('article td', (cells) => cells.map((c) => c.textContent)), ['Ana', '1200']);
  // The CTA points to the expected relative claim path, on the preview's own origin.
  t.equal(await page.$eval('a.cta', (a) => (a as unknown as { href: string }).href), `${new URL(publicUrl).origin}/signup?source=creator-preview`);

  // No script ran: neither the <script> of the Markdown nor its javascript: link, which is no link at all.
  t.equal(await page.evaluate(() => (globalThis as unknown as Page).owned), undefined);
  t.equal(await page.$$eval('script', (s) => s.length), 0);
  t.equal(await page.$$eval('a[href^="javascript:" i]', (a) => a.length), 0);
  t.same(violations, [], 'the page needs nothing its CSP forbids (its own stylesheet applies)');
  t.equal(await page.$eval('a.cta', (a) => (globalThis as unknown as Page).getComputedStyle(a).display), 'inline-block', 'the hashed stylesheet is applied');

  // The HTML holds none of the seed's private markers.
  const html = await page.content();
  const served = await getPublic(publicUrl);
  for (const banned of [...BANNED, storeHost]) {
    t.notOk(html.includes(banned), `the rendered page holds no ${banned}`);
    t.notOk(served.text.includes(banned), `the served HTML holds no ${banned}`);
  }

  const dir = join('.tap', 'shares');
  await mkdir(dir, { recursive: true });
  const shot = join(dir, `${name}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  t.ok((await stat(shot)).size > 1000, `screenshot kept at ${shot}`);

  // The download: an attachment with exactly the stored bytes and no private metadata.
  const download = await getPublic(publicDownloadUrl);
  t.equal(download.status, 200);
  t.equal(download.text, REPORT);
  t.match(download.headers.get('content-disposition'), /^attachment; filename="creator-report\.md"/);
  t.equal(download.headers.get('cache-control'), 'no-store');
  for (const header of ['etag', 'x-amz-meta-sha256', 'x-goog-meta-sha256']) t.equal(download.headers.get(header), null, `no ${header}`);

  // Revoke; both URLs stop working, in the browser too.
  t.equal((await revoke(gw, token)).status, 204);
  const after = await page.goto(publicUrl, { waitUntil: 'load' });
  t.equal(after?.status(), 404);
  t.equal((await getPublic(publicDownloadUrl)).status, 404);
}

t.test('smoke check on the local store: the page renders the content, runs no script, leaks nothing; the download is an attachment; a revoke ends both', (t) =>
  // The local store's "host" is its directory.
  smokeCheck(t, gw, gw.dataDir, 'preview-local'),
);

t.test('smoke check on S3: the same, and the page names neither the S3 endpoint nor the bucket', async (t) => {
  await smokeCheck(t, onS3, new URL(s3.proxy.endpoint).host, 'preview-s3');
  await smokeCheck(t, onS3, 'bg-preview', 'preview-s3');
});

t.test('a CSV share shows its table in the browser', async (t) => {
  const uri = await putBytes(gw, 'people.csv', 'text/csv', 'Who,Followers,Why relevant\nAna,1200,"Writes about ""gateways"""\nBo,7,Local\n');
  const created = await share(gw, { uri });
  const context = await browser.createBrowserContext();
  t.teardown(() => context.close());
  const page = await context.newPage();
  await page.goto(created.json.publicUrl, { waitUntil: 'load' });
  t.same(await page.$$eval('article th', (c) => c.map((x) => x.textContent)), ['Who', 'Followers', 'Why relevant']);
  t.same(await page.$$eval('article tbody tr', (rows) => rows.map((r) => [...r.children].map((c) => c.textContent))), [
    ['Ana', '1200', 'Writes about "gateways"'],
    ['Bo', '7', 'Local'],
  ]);
});

t.test('an HTML artifact is shown as its source text, never rendered', async (t) => {
  const uri = await putBytes(gw, 'page.html', 'text/html', '<h1 id="x">Hello</h1><script>window.owned = true</script><img src=x onerror="window.owned=true">');
  const created = await share(gw, { uri, allowDownload: true });
  t.equal(created.json.publicDownloadUrl, undefined);
  const context = await browser.createBrowserContext();
  t.teardown(() => context.close());
  const page = await context.newPage();
  await page.goto(created.json.publicUrl, { waitUntil: 'load' });
  t.equal(await page.$('#x'), null, 'the artifact’s element is not in the page');
  t.match(await page.$eval('article pre', (p) => p.textContent), '<h1 id="x">Hello</h1><script>');
  t.equal(await page.evaluate(() => (globalThis as unknown as Page).owned), undefined);
});
