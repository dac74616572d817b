// The janitor keys: defaults, validation with the rest of the config, and one
// janitor per store in the registry.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, buildConfig } from '../../src/config/load.js';
import { StoreRegistry } from '../../src/storage/registry.js';

t.test('defaults: 6 h grace, hourly sweep, retries up to 60 s apart, 1000 pending', async (t) => {
  const config = buildConfig({}, {}, '/tmp');
  t.same(config.janitor, { graceSeconds: 21_600, sweepIntervalSeconds: 3600, retryMaxSeconds: 60, maxPending: 1000 });
});

t.test('set, and refused with every other problem at once', async (t) => {
  const config = buildConfig({ janitor: { 'grace-seconds': 60, 'sweep-interval-seconds': 0, 'retry-max-seconds': 5, 'max-pending': 10 } }, {}, '/tmp');
  t.same(config.janitor, { graceSeconds: 60, sweepIntervalSeconds: 0, retryMaxSeconds: 5, maxPending: 10 });
  let err: unknown;
  try {
    buildConfig({ janitor: { 'grace-seconds': 0, 'retry-max-seconds': 'soon', 'grace': 1 }, port: 'x' }, {}, '/tmp');
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof ConfigError);
  const problems = (err as ConfigError).problems.join('\n');
  t.match(problems, /janitor\.grace-seconds/);
  t.match(problems, /janitor\.retry-max-seconds/);
  t.match(problems, /janitor\.grace\b/, 'an unknown key is named');
  t.match(problems, /port/, 'reported together with the rest');
});

t.test('the registry gives every store a janitor, counted per store', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-janitor-cfg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const stores = await StoreRegistry.open(buildConfig({ 'data-dir': dir }, {}, dir));
  t.teardown(() => stores.close());
  t.same(
    stores.cleanupCounts().map((c) => c.store),
    ['retained', 'ephemeral'],
  );
  t.same(stores.cleanupCounts()[0]?.counts, { pending: 0, done: 0, failed: 0, dropped: 0, swept: 0 });
});
