import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { patternChunk, patternSha256, sha256 } from '../helpers/bytes.js';
import { call, eventually, type Answer, formBody, json, memory, openFds, raw, requestHead, startChildGateway, type RawConnection } from './child-gateway.js';
import { startHostileUpstream } from './hostile-upstream.js';

/**
 * One gateway process, two tenants. While workspace B persists and uploads
 * as any runner would, workspace A leaves at every stage of every transfer,
 * trickles, and sends what a parser or a decoder chokes on. Afterwards the
 * process must be alive, every B transfer must have stored the right bytes,
 * and nothing A did may be left behind: no descriptor, no temp file, no
 * memory beyond a bound.
 */
const TOKEN_A = 'hostile-tenant-token-aaaa';
const TOKEN_B = 'ordinary-tenant-token-bbb';
const MiB = 1024 * 1024;
/** Peak RSS may exceed the idle RSS by this much (README "A tenant that misbehaves" has the measured figures). */
const RSS_HEADROOM_MIB = 64;

const up = await startHostileUpstream();
const gw = await startChildGateway({
  tokens: [
    { token: TOKEN_A, workspaces: ['ws-a'] },
    { token: TOKEN_B, workspaces: ['ws-b'] },
  ],
  upstream: { allow: ['127.0.0.1'], 'timeout-seconds': 10 },
  limits: { transfers: 4, 'transfer-queue': 16 },
  tiers: { retained: { 'cap-bytes': 4 * MiB }, ephemeral: { 'cap-bytes': 8 * MiB } },
  shutdown: { 'deadline-seconds': 2 },
  signing: { secret: 'hostile-tenant-suite-signing-secret-0123456789' },
});
t.teardown(async () => {
  await gw.stop();
  await up.stop();
});
const port = gw.port;

const step = (request: Record<string, unknown>, persist?: Record<string, unknown>) =>
  JSON.stringify({ 'flow-slug': 'hostile', 'step-id': 's', request, ...(persist ? { persist } : {}) });
const postStep = (ws: string, token: string, body: string) => call(port, 'POST', `/v1/workspaces/${ws}/http`, { token, headers: { 'content-type': 'application/json' }, body });
const content = (uri: string, token: string) => call(port, 'GET', `/v1/resources/content?uri=${encodeURIComponent(uri)}`, { token });

async function metric(name: string): Promise<number> {
  const text = (await call(port, 'GET', '/metrics')).body.toString();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
}
const admitted = async (): Promise<number> => (await metric('blobgate_transfers_in_flight')) + (await metric('blobgate_transfer_queue_length'));
const quiet = async (): Promise<boolean> => (await admitted()) === 0;
const tmpFiles = async (): Promise<string[]> =>
  (await Promise.all(['retained', 'ephemeral'].map(async (s) => (await readdir(join(gw.dataDir, s, 'tmp')).catch(() => [])).map((f) => `${s}/tmp/${f}`)))).flat();

// ---- workspace B: an ordinary tenant, checked byte for byte ----

const bFailures: string[] = [];
let bRounds = 0;
/** B's transfers on the wire now: they may be counted in the gate's metrics too. */
let bTransfers = 0;
const asB = async <T>(p: () => Promise<T>): Promise<T> => {
  bTransfers++;
  try {
    return await p();
  } finally {
    bTransfers--;
  }
};

async function bRound(i: number): Promise<void> {
  const size = 256 * 1024 + i;
  const persisted = await asB(() => postStep('ws-b', TOKEN_B, step({ url: `${up.url}/bytes/${size}?seed=${i}` }, { type: 'blob', tier: 'ephemeral' })));
  const ref = json(persisted);
  if (persisted.status !== 200) return void bFailures.push(`round ${i} persist: ${persisted.status} ${persisted.body.toString().slice(0, 200)}`);
  if (ref['blob-ref'].sha256 !== patternSha256(size, i)) bFailures.push(`round ${i} persist: wrong sha256`);
  const back = await content(ref.uri, TOKEN_B);
  if (sha256(back.body) !== patternSha256(size, i)) bFailures.push(`round ${i} persisted content read back wrong (${back.status})`);

  const bytes = patternChunk(0, 128 * 1024 + i, i + 100);
  const put = await asB(() => call(port, 'PUT', `/v1/workspaces/ws-b/uploads/b-${i}.bin`, { token: TOKEN_B, body: bytes }));
  if (put.status !== 201 || json(put)?.['blob-ref']?.sha256 !== sha256(bytes)) return void bFailures.push(`round ${i} upload: ${put.status} ${put.body.toString().slice(0, 200)}`);
  const putBack = await content(json(put).uri, TOKEN_B);
  if (!putBack.body.equals(bytes)) bFailures.push(`round ${i} upload read back wrong (${putBack.status})`);

  const files = [patternChunk(0, 40_000, i + 200), patternChunk(0, 50_000, i + 300)];
  const form = formBody('bform', files.map((b, k) => ({ name: 'file', filename: `m-${i}-${k}.bin`, bytes: b })));
  const multi = await asB(() => call(port, 'POST', '/v1/workspaces/ws-b/uploads', { token: TOKEN_B, headers: { 'content-type': 'multipart/form-data; boundary=bform' }, body: form }));
  const shas = (json(multi)?.items ?? []).map((r: { 'blob-ref': { sha256: string } }) => r['blob-ref'].sha256);
  if (multi.status !== 201 || JSON.stringify(shas) !== JSON.stringify(files.map((b) => sha256(b)))) bFailures.push(`round ${i} multipart: ${multi.status} ${multi.body.toString().slice(0, 200)}`);
}

async function bLoop(until: Promise<unknown>): Promise<void> {
  let done = false;
  const stop = (): void => void (done = true);
  until.then(stop, stop);
  while (!done || bRounds < 3) await bRound(++bRounds).catch((err: Error) => bFailures.push(`round ${bRounds}: ${err.message}`));
}

// ---- workspace A: what it stores for its read attacks ----

const aBlob = patternChunk(0, 2 * MiB, 9);
const aRef = json(await call(port, 'PUT', '/v1/workspaces/ws-a/uploads/a-read.bin', { token: TOKEN_A, body: aBlob }));
const signedFor = async (filename: string): Promise<string> => {
  const res = json(await call(port, 'POST', '/v1/resources/url', { token: TOKEN_A, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uri: aRef.uri, filename }) }));
  const u = new URL(res.url as string);
  return u.pathname + u.search;
};
const aSigned = await signedFor('a-read.bin');
const contentPath = `/v1/resources/content?uri=${encodeURIComponent(aRef.uri as string)}`;

/** Opens a raw request and leaves when `when` resolves (it gets the connection). */
async function leaveWhen(data: string | Buffer, when: (c: RawConnection) => Promise<unknown>): Promise<void> {
  const c = raw(port, data);
  await Promise.race([when(c), c.closed]);
  c.leave();
  await c.closed;
}
const written = (c: RawConnection): Promise<void> => new Promise((r) => c.socket.write('', () => r()));
const stepHead = (ws: string, length: number, token = TOKEN_A) => requestHead('POST', `/v1/workspaces/${ws}/http`, { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': length });
const putHead = (name: string, length: number) => requestHead('PUT', `/v1/workspaces/ws-a/uploads/${name}`, { authorization: `Bearer ${TOKEN_A}`, 'content-length': length });
const formHead = (length: number) => requestHead('POST', '/v1/workspaces/ws-a/uploads', { authorization: `Bearer ${TOKEN_A}`, 'content-type': 'multipart/form-data; boundary=aform', 'content-length': length });
const aForm = formBody('aform', [{ name: 'file', filename: 'dropped-form.bin', bytes: patternChunk(0, 600 * 1024, 4) }]);
const getHead = (path: string, extra: Record<string, string> = {}) => requestHead('GET', path, { authorization: `Bearer ${TOKEN_A}`, ...extra });

/** Transfers of A that are admitted (running or queued) or already answered (refused), B's aside. */
const settledOf = async (conns: RawConnection[]): Promise<number> => (await admitted()) - bTransfers + conns.filter((c) => c.received() > 0).length;

/**
 * The transfer slots (all of them, or A's share where workspaces have shares)
 * taken by A's stalled steps; then A's uploads and a step wait in the queue,
 * and leave.
 */
async function leaveWhileQueued(t: Test): Promise<void> {
  const holders = [0, 1, 2, 3].map((i) => {
    const body = step({ url: `${up.url}/stall/h${i}` }, { type: 'blob', tier: 'ephemeral' });
    return raw(port, stepHead('ws-a', Buffer.byteLength(body)) + body);
  });
  await eventually(async () => (await settledOf(holders)) >= 4, 10_000);
  const stepBody = step({ url: `${up.url}/bytes/1000` }, { type: 'blob' });
  const queued = [
    raw(port, putHead('dropped-queued-1.bin', 10) + 'x'),
    raw(port, putHead('dropped-queued-2.bin', 1000) + 'x'.repeat(500)),
    raw(port, Buffer.concat([Buffer.from(formHead(aForm.length)), aForm.subarray(0, 1000)])),
    raw(port, stepHead('ws-a', Buffer.byteLength(stepBody)) + stepBody),
  ];
  const reached = await eventually(async () => (await settledOf([...holders, ...queued])) >= 8, 10_000);
  t.ok(reached, "A's transfers waited in the queue (or were refused) when they left");
  for (const q of queued) q.leave();
  for (const h of holders) h.leave();
  await Promise.all([...queued, ...holders].map((c) => c.closed));
}

/**
 * Steps, uploads and reads left at each stage: after the headers, mid-body,
 * mid-transfer, during the commit. The transfers go one after another, so A
 * stays within a workspace share; the reads (not transfers) alongside.
 */
async function leaveAtEveryStage(): Promise<void> {
  const stalled = step({ url: `${up.url}/stall/m1` }, { type: 'blob', tier: 'ephemeral' });
  const committing = step({ url: `${up.url}/finish/c1` }, { type: 'blob', tier: 'ephemeral' });
  const upload = patternChunk(0, 512 * 1024, 6);
  const fromRef = step({ url: `${up.url}/stall/r1`, method: 'PUT', 'body-from-ref': { uri: aRef.uri } }, { type: 'blob', tier: 'ephemeral' });
  const transfers: Array<() => Promise<void>> = [
    () => leaveWhen(stepHead('ws-a', 300), written),
    () => leaveWhen(stepHead('ws-a', Buffer.byteLength(fromRef)) + fromRef, () => up.arrived('r1')),
    () => leaveWhen(stepHead('ws-a', Buffer.byteLength(stalled)) + stalled.slice(0, 40), written),
    () => leaveWhen(stepHead('ws-a', Buffer.byteLength(stalled)) + stalled, () => up.arrived('m1')),
    () => leaveWhen(stepHead('ws-a', Buffer.byteLength(committing)) + committing, () => up.finished('c1')),
    () => leaveWhen(putHead('dropped-headers.bin', MiB), written),
    () => leaveWhen(Buffer.concat([Buffer.from(putHead('dropped-mid.bin', MiB)), upload.subarray(0, 300 * 1024)]), written),
    () => leaveWhen(Buffer.concat([Buffer.from(putHead('commit-put.bin', upload.length)), upload]), written),
    () => leaveWhen(formHead(aForm.length), written),
    () => leaveWhen(Buffer.concat([Buffer.from(formHead(aForm.length)), aForm.subarray(0, 300 * 1024)]), written),
    () => leaveWhen(Buffer.concat([Buffer.from(formHead(aForm.length)), aForm]), written),
  ];
  const reads = [contentPath, aSigned].flatMap((path) => [
    leaveWhen(getHead(path), written),
    leaveWhen(getHead(path), (c) => c.receivedAtLeast(128 * 1024)),
    leaveWhen(getHead(path, { range: 'bytes=1000-' }), (c) => c.receivedAtLeast(64 * 1024)),
  ]);
  for (const leave of transfers) await leave();
  await Promise.all(reads);
}

/** A raw upload sent 1 KiB at a time, 15 ms apart: its status, and whether the stored sha256 is right. */
async function trickledUpload(): Promise<[string | undefined, boolean]> {
  const trickled = patternChunk(0, 48 * 1024, 8);
  const c = raw(port, putHead('trickled.bin', trickled.length));
  for (let off = 0; off < trickled.length; off += 1024) {
    c.socket.write(trickled.subarray(off, off + 1024));
    await new Promise((r) => setTimeout(r, 15));
  }
  await c.closed;
  const body = c.head().split('\r\n\r\n')[1] ?? '';
  return [c.head().split(' ')[1], /"sha256":"([0-9a-f]+)"/.exec(body)?.[1] === sha256(trickled)];
}

/** Each hostile request with the answer it must get. */
async function hostileRequests(): Promise<Array<[string, unknown, unknown]>> {
  const trickle = trickledUpload();
  const deepRequest = `{"flow-slug":"f","step-id":"s","request":{"url":"${up.url}/bytes/10","json":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`;
  const signedAB = await signedFor('a,b');
  const code = (p: () => Promise<Answer>) => async () => {
    const a = await p();
    return [a.status, json(a)?.error?.code];
  };
  // An upstream that answers and closes before reading the body: the answer, or the broken connection, may come first.
  const answeredOrCut = (p: () => Promise<Answer>) => async () => {
    const [status, c] = await code(p)();
    return status === 200 || c === 'upstream_unreachable' ? 'answer or upstream_unreachable' : [status, c];
  };
  // Two transfers trickle while the rest go one by one: A stays within a workspace share.
  const trickling: Array<[string, Promise<unknown>, unknown]> = [
    ['trickled upload is stored whole', trickle, ['201', true]],
    ['trickling upstream is persisted', code(() => postStep('ws-a', TOKEN_A, step({ url: `${up.url}/trickle` }, { type: 'blob' })))(), [200, undefined]],
  ];
  const cases: Array<[string, () => Promise<unknown>, unknown]> = [
    ['body-from-ref to an upstream that answers before reading it', answeredOrCut(() => postStep('ws-a', TOKEN_A, step({ url: `${up.url}/early`, method: 'POST', 'body-from-ref': { uri: aRef.uri } }))), 'answer or upstream_unreachable'],
    ['multipart from-ref to an upstream that answers before reading it', answeredOrCut(() => postStep('ws-a', TOKEN_A, step({ url: `${up.url}/early`, method: 'POST', multipart: [{ name: 'f', 'from-ref': { uri: aRef.uri } }, { name: 'g', 'from-ref': { uri: aRef.uri } }] }))), 'answer or upstream_unreachable'],
    ['deep JSON from the upstream', code(() => postStep('ws-a', TOKEN_A, step({ url: `${up.url}/deep-json` }))), [502, 'response_unparseable']],
    ['deep JSON in the request body', code(() => postStep('ws-a', TOKEN_A, deepRequest)), [400, 'invalid_request']],
    ['64 KiB request header', async () => [431, 400].includes((await call(port, 'GET', '/healthz', { headers: { 'x-huge': 'h'.repeat(64 * 1024) } })).status), true],
    ['gzip bomb persisted', code(() => postStep('ws-a', TOKEN_A, step({ url: `${up.url}/gzip-bomb` }, { type: 'blob', tier: 'ephemeral' }))), [413, 'cap_exceeded']],
    ['brotli bomb persisted', code(() => postStep('ws-a', TOKEN_A, step({ url: `${up.url}/br-bomb` }, { type: 'blob' }))), [413, 'cap_exceeded']],
    ['gzip bomb inline', code(() => postStep('ws-a', TOKEN_A, step({ url: `${up.url}/gzip-bomb`, 'response-as': 'text' }))), [413, 'inline_limit_exceeded']],
    ['signed URL, filename twice', code(() => call(port, 'GET', signedAB.replace('filename=a%2Cb', 'filename=a&filename=b'))), [400, 'invalid_request']],
    ['upload, path twice', code(() => call(port, 'PUT', '/v1/workspaces/ws-a/uploads/dropped-q.bin?path=a&path=b', { token: TOKEN_A, body: 'x' })), [400, 'invalid_request']],
    ['content, uri twice', code(() => call(port, 'GET', `${contentPath}&uri=${encodeURIComponent(aRef.uri as string)}`, { token: TOKEN_A })), [400, 'invalid_request']],
    ['list, tier twice', code(() => call(port, 'GET', '/v1/workspaces/ws-a/resources?tier=retained&tier=retained', { token: TOKEN_A })), [400, 'invalid_request']],
    ['step without a token', code(() => postStep('ws-a', '', step({ url: `${up.url}/bytes/10` }))), [401, 'unauthorized']],
    ['step with a wrong token', code(() => postStep('ws-a', 'not-a-token-of-this-gateway', step({ url: `${up.url}/bytes/10` }))), [401, 'unauthorized']],
    ['step with a 10 KiB token', code(() => postStep('ws-a', 'z'.repeat(10_240), step({ url: `${up.url}/bytes/10` }))), [401, 'unauthorized']],
    ["A's token on B's workspace", code(() => postStep('ws-b', TOKEN_A, step({ url: `${up.url}/bytes/10` }))), [403, 'forbidden']],
    ["A's token uploading 1 MiB into B's workspace", code(() => call(port, 'PUT', '/v1/workspaces/ws-b/uploads/dropped-x.bin', { token: TOKEN_A, body: patternChunk(0, MiB) })), [403, 'forbidden']],
  ];
  const results: Array<[string, unknown, unknown]> = [];
  for (const [name, run, want] of cases) results.push([name, await run().catch((err: Error) => `threw ${err.message}`), want]);
  for (const [name, p, want] of trickling) results.push([name, await p.catch((err: Error) => `threw ${err.message}`), want]);
  return results;
}

// ---- the run ----

let baseline: string[] = [];
let idle = { rssMiB: 0, peakMiB: 0 };
let peakSample = 0;
let answers: Array<[string, unknown, unknown]> = [];
let seconds = 0;

t.test('B works while A attacks', async (t) => {
  // Warm up every path once, so the baseline counts descriptors and memory of a gateway that has done all of it.
  await bRound(0);
  await Promise.all([content(aRef.uri as string, TOKEN_A), call(port, 'GET', aSigned), postStep('ws-a', TOKEN_A, step({ url: `${up.url}/bytes/1000` }, { type: 'blob' }))]);
  await eventually(quiet, 5_000);
  baseline = await openFds(gw.pid);
  idle = await memory(gw.pid);
  peakSample = idle.rssMiB;
  const started = Date.now();
  // A's share of the gate is small: between phases, wait until the transfers A abandoned have been
  // aborted and cleaned up (a condition, not a sleep), so the next phase's requests are admitted.
  const aSettled = async (): Promise<boolean> => (await admitted()) <= bTransfers;
  const attacks = (async () => {
    await leaveWhileQueued(t);
    await eventually(aSettled, 10_000);
    await leaveAtEveryStage();
    await eventually(aSettled, 10_000);
    return hostileRequests();
  })();
  attacks.catch(() => undefined);
  const sampler = setInterval(() => void memory(gw.pid).then((m) => (peakSample = Math.max(peakSample, m.rssMiB)), () => undefined), 100);
  try {
    await bLoop(attacks);
    answers = await attacks.catch((err: Error) => [['the attacks', `threw ${err.message}`, 'no throw']] as Array<[string, unknown, unknown]>);
  } finally {
    clearInterval(sampler);
    seconds = (Date.now() - started) / 1000;
  }
});

t.test('the gateway is alive and answers', async (t) => {
  t.equal(gw.exited(), undefined, `the process is still running${gw.exited() ? `; stderr:\n${gw.stderr()}` : ''}`);
  if (gw.exited()) return;
  t.equal((await call(port, 'GET', '/healthz')).status, 200);
});

t.test('every transfer of workspace B stored the right bytes', async (t) => {
  t.ok(bRounds >= 3, `B ran ${bRounds} rounds`);
  t.same(bFailures, [], 'no B transfer failed');
});

t.test("each of A's hostile requests gets its answer", async (t) => {
  if (gw.exited()) return t.fail('the gateway is gone');
  for (const [name, got, want] of answers) t.same(got, want, name);
});

t.test('nothing of A is left behind', async (t) => {
  if (gw.exited()) return t.fail('the gateway is gone');
  t.ok(await eventually(quiet, 15_000), 'no transfer is running or queued');
  t.ok(await eventually(async () => (await tmpFiles()).length === 0, 5_000), `no temp file: ${(await tmpFiles()).join(', ')}`);
  const settled = await eventually(async () => (await openFds(gw.pid)).length <= baseline.length, 10_000);
  const now = await openFds(gw.pid);
  t.ok(settled, `open descriptors back to ${baseline.length} (now ${now.length}: ${now.filter((f) => !baseline.includes(f)).join(', ')})`);
  const listing = json(await call(port, 'GET', '/v1/workspaces/ws-a/resources?limit=1000', { token: TOKEN_A }));
  const names = (listing?.items ?? []).map((r: { uri: string }) => r.uri.split('/').at(-1));
  t.same(names.filter((n: string) => n.startsWith('dropped-')), [], 'no upload A left mid-way was stored');
  const mem = await memory(gw.pid);
  const peak = Math.max(mem.peakMiB, peakSample);
  t.ok(peak - idle.rssMiB <= RSS_HEADROOM_MIB, `peak RSS ${peak.toFixed(0)} MiB stayed within ${RSS_HEADROOM_MIB} MiB of the idle ${idle.rssMiB.toFixed(0)} MiB`);
  t.comment(`hostile phase ${seconds.toFixed(1)} s, ${bRounds} B rounds, idle RSS ${idle.rssMiB.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, fds ${baseline.length} -> ${now.length}`);
});

t.test('it shuts down cleanly', async (t) => {
  if (gw.exited()) return t.fail('the gateway is gone');
  t.equal(await gw.stop(), '0');
});
