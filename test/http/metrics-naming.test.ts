// The /metrics exposition passes Prometheus's own linter, `promtool check
// metrics` (Debian package `prometheus`): counters end in `_total` and
// nothing else does, units are in the names, every series has help. The
// scrape is taken after traffic that fills every blobgate series, so labelled
// series are linted too, not only their headers.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import t from 'tap';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

/** promtool on PATH, or undefined: like rclone, this test fails rather than skips without it. */
function findPromtool(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir || '.', 'promtool');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

const up = await startUpstream();
const gw = await startGateway({ tiers: { retained: { 'cap-bytes': 100_000 } } });
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

async function scrape(): Promise<string> {
  const ok = await gw.step({ request: { url: `${up.url}/bytes/5000` }, persist: { type: 'blob' } });
  await gw.step({ request: { url: `${up.url}/bytes/200000` }, persist: { type: 'blob' } });
  await gw.step({ request: { url: `${up.url}/status/503` }, persist: { type: 'blob', tier: 'ephemeral' } });
  await gw.step({ request: { url: 'http://169.254.169.254/' } });
  await fetch(`${gw.url}/v1/workspaces/ws-1/uploads/a.bin`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: new Uint8Array(300) });
  const signed = await gw.call('POST', '/v1/resources/url', { uri: ok.json.uri });
  await (await fetch(signed.json.url)).arrayBuffer();
  await gw.call('GET', `/v1/resources/content?uri=${encodeURIComponent(ok.json.uri)}`);
  return (await gw.call('GET', '/metrics')).json as string;
}

t.test('promtool check metrics finds no problem', async (t) => {
  const promtool = findPromtool();
  if (!promtool) return t.fail('promtool is not on PATH: install the Debian package "prometheus" (.ci/run does)');
  const text = await scrape();
  for (const name of ['blobgate_transfers_total', 'blobgate_persisted_bytes_total', 'blobgate_transfer_size_bytes_bucket', 'blobgate_transfer_progress_bytes_total', 'blobgate_served_bytes_total', 'blobgate_upstream_response_seconds_bucket']) {
    t.match(text, new RegExp(`^${name}\\{`, 'm'), `${name} has a sample`);
  }
  const run = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.equal(run.status, 0, `promtool exit status (its output: ${run.stdout}${run.stderr})`);
  t.equal(`${run.stdout}${run.stderr}`.trim(), '', 'promtool reports nothing');
});

t.test('promtool does catch a misnamed series (the check is not vacuous)', async (t) => {
  const promtool = findPromtool();
  if (!promtool) return t.fail('promtool is not on PATH');
  const bad = '# HELP blobgate_x_total A gauge named like a counter.\n# TYPE blobgate_x_total gauge\nblobgate_x_total 1\n';
  const run = spawnSync(promtool, ['check', 'metrics'], { input: bad, encoding: 'utf8' });
  t.not(run.status, 0);
  t.match(`${run.stdout}${run.stderr}`, /non-counter metrics should not have "_total" suffix/);
});
