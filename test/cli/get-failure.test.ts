import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startGateway, TOKEN_ALL, type Gateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';
import { baseEnv, cliArgv, root, runCli, STACK_FRAME } from './_cli.js';

const SIZE = 4 * 1024 * 1024;

/**
 * A TCP relay in front of the gateway that forwards `limit` bytes of each
 * answer, then either cuts the connection ('drop') or stops forwarding ('stall').
 */
async function startRelay(target: string, limit: number, mode: 'drop' | 'stall'): Promise<{ url: string; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: hostname, port: Number(port) });
    sockets.add(client).add(upstream);
    let sent = 0;
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (sent >= limit) return;
      const part = chunk.subarray(0, limit - sent);
      sent += part.length;
      client.write(part);
      if (sent >= limit) {
        if (mode === 'drop') {
          client.destroy();
          upstream.destroy();
        } else upstream.pause();
      }
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function setup(t: Test): Promise<{ gw: Gateway; uri: string; work: string }> {
  const gw = await startGateway();
  const up = await startUpstream();
  const work = await mkdtemp(join(tmpdir(), 'bg-cli-fail-'));
  t.teardown(async () => {
    await gw.close();
    await up.stop();
    await rm(work, { recursive: true, force: true });
  });
  const step = await gw.step({ request: { url: `${up.url}/bytes/${SIZE}/big.bin`, 'response-as': 'bytes' }, persist: { type: 'blob', tier: 'ephemeral' } });
  return { gw, uri: step.json.uri as string, work };
}

t.test('a write that fails (file size limit) removes the partial file', async (t) => {
  const { gw, uri, work } = await setup(t);
  // ulimit -f counts 1024-byte blocks: writes past 1 MiB fail with EFBIG. (tap's process-info
  // hook, injected through NODE_OPTIONS, installs signal-exit, whose SIGXFSZ handler would turn
  // EFBIG into a kill: the CLI runs without it here.)
  const res = await runCli(['get', uri, '-o', join(work, 'big.bin')], { env: { BLOBGATE_URL: gw.url, BLOBGATE_TOKEN: TOKEN_ALL }, shellPrefix: 'unset NODE_OPTIONS; ulimit -f 1024' });
  t.equal(res.code, 1, `${res.signal} ${res.stderr}`);
  t.match(res.stderr, /^error: io_error: cannot write .*big\.bin: .*EFBIG/);
  t.notMatch(res.stderr, STACK_FRAME);
  t.same(await readdir(work), [], 'the partial file is gone');
});

t.test('a connection lost mid-transfer removes the partial file', async (t) => {
  const { gw, uri, work } = await setup(t);
  const relay = await startRelay(gw.url, 1024 * 1024, 'drop');
  t.teardown(() => relay.close());
  const res = await runCli(['get', uri], { env: { BLOBGATE_URL: relay.url, BLOBGATE_TOKEN: TOKEN_ALL }, cwd: work });
  t.equal(res.code, 1);
  t.match(res.stderr, new RegExp(`^error: unreachable: the connection to ${relay.url} broke mid-transfer \\(.+\\)\\.\\n$`));
  t.same(await readdir(work), [], 'the partial file is gone');
});

t.test('a connection lost mid-transfer is reported as such while the cleanup is slow', async (t) => {
  // pipeline() destroys the file's stream with the connection's error too; that stream emits it once
  // its descriptor is closed, which a slow cleanup lets happen before the failure is classified.
  const { gw, uri, work } = await setup(t);
  const relay = await startRelay(gw.url, 1024 * 1024, 'drop');
  t.teardown(() => relay.close());
  const slowUnlink = new URL('./_slow-unlink.mjs', import.meta.url).href;
  const res = await runCli(['get', uri], { env: { BLOBGATE_URL: relay.url, BLOBGATE_TOKEN: TOKEN_ALL, NODE_OPTIONS: `--import=${slowUnlink}` }, cwd: work });
  t.equal(res.code, 1);
  t.match(res.stderr, new RegExp(`^error: unreachable: the connection to ${relay.url} broke mid-transfer \\(.+\\)\\.\\n$`));
  t.same(await readdir(work), [], 'the partial file is gone');
});

t.test('Ctrl-C (SIGINT) during a download removes the partial file and exits 130', async (t) => {
  const { gw, uri, work } = await setup(t);
  const relay = await startRelay(gw.url, 1024 * 1024, 'stall');
  t.teardown(() => relay.close());
  const out = join(work, 'part.bin');
  const child = spawn(process.execPath, [...cliArgv, 'get', uri, '-o', out], { cwd: root, env: baseEnv({ BLOBGATE_URL: relay.url, BLOBGATE_TOKEN: TOKEN_ALL }), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  const exit = new Promise<number | null>((r) => child.once('close', (code) => ((exited = true), r(code))));
  // Wait until some bytes have landed in the file, or the CLI gave up. Bounded generously: under the
  // whole suite on two cores the CLI's start alone has taken over 5 s (the bound this loop had before).
  const deadline = Date.now() + 60_000;
  while (!exited && Date.now() < deadline) {
    const st = await stat(out).catch(() => undefined);
    if (st && st.size > 0) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  t.ok((await stat(out).catch(() => ({ size: 0 }))).size > 0, `the download had started${exited ? ` (the CLI exited first: ${stderr})` : ''}`);
  child.kill('SIGINT');
  t.equal(await exit, 130);
  t.match(stderr, /^error: interrupted: download interrupted; removed the partial .*part\.bin\.\n$/);
  t.same(await readdir(work), [], 'the partial file is gone');
});
