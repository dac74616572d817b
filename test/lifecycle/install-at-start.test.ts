import t from 'tap';
import { buildConfig } from '../../src/config/load.js';
import { installLifecycles } from '../../src/storage/lifecycle.js';
import { StoreRegistry } from '../../src/storage/registry.js';
import { TEST_CREDENTIALS } from '../../support/servers/s3/clients.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';

t.test('install-lifecycle: an ephemeral-only store expires its prefix; a store with retained blobs never does', async (t) => {
  const s3 = await startProxiedS3('bg-life');
  t.teardown(() => s3.stop());
  process.env.BG_LIFE_KEY = TEST_CREDENTIALS.accessKeyId;
  process.env.BG_LIFE_SECRET = TEST_CREDENTIALS.secretAccessKey;
  const store = (prefix: string, install: boolean) => ({
    driver: 's3',
    bucket: 'bg-life',
    endpoint: s3.proxy.endpoint,
    'force-path-style': true,
    prefix,
    'install-lifecycle': install,
    credentials: { 'access-key-id': 'env:BG_LIFE_KEY', 'secret-access-key': 'env:BG_LIFE_SECRET' },
  });
  const config = buildConfig(
    {
      stores: { kept: store('retained/', true), eph: store('ephemeral/', true), off: store('other/', false) },
      tiers: { retained: { store: 'kept' }, ephemeral: { store: 'eph', 'ttl-seconds': 2 * 86_400 + 1 } },
    },
    {},
    '/tmp',
  );
  const stores = await StoreRegistry.open(config);
  t.teardown(() => stores.close());
  const logged: string[] = [];
  await installLifecycles(config, stores, (m) => logged.push(m));
  const xml = s3.server.lifecycleXml('bg-life') ?? '';
  t.match(xml, /<ID>blobgate-expire:ephemeral\/<\/ID>/);
  t.match(xml, /<Prefix>ephemeral\/<\/Prefix>[\s\S]*<Days>3<\/Days>|<Days>3<\/Days>[\s\S]*<Prefix>ephemeral\//, 'the TTL rounded up to whole days');
  t.notMatch(xml, /blobgate-expire:retained\//, 'the retained store never expires');
  t.match(xml, /blobgate-staging:retained\//);
  // Records (jobs, idempotency keys, shares) get a backstop rule that outlives the longest record: a 90-day share, plus a day.
  t.match(xml, /<ID>blobgate-records:retained\/<\/ID>[\s\S]*?<Days>91<\/Days>/, 'the records rule waits out the longest record');
  t.notMatch(xml, /other\//, 'a store without the flag is left alone');
  t.ok(logged.some((l) => l.startsWith('store eph: lifecycle rule')));
});
