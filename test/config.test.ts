import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildConfig, ConfigError, loadConfig, sha256Hex } from '../src/config/load.js';

t.test('the embedded default: both tiers on local stores under ./.blobgate', async (t) => {
  const c = buildConfig({}, {}, '/srv/app');
  t.equal(c.host, '127.0.0.1');
  t.equal(c.port, 8787);
  t.equal(c.dataDir, '/srv/app/.blobgate');
  t.same(c.stores, { retained: { driver: 'local', root: '/srv/app/.blobgate/retained' }, ephemeral: { driver: 'local', root: '/srv/app/.blobgate/ephemeral' } });
  t.same(c.tiers, {
    retained: { store: 'retained', capBytes: 52_428_800, loadBytes: 10_485_760 },
    ephemeral: { store: 'ephemeral', capBytes: 4_294_967_296, loadBytes: 20_971_520, ttlSeconds: 86_400 },
  });
  t.equal(c.limits.inlineBytes, 262_144);
  t.same(c.signing, { defaultTtlSeconds: 900, minTtlSeconds: 60, maxTtlSeconds: 604_800 });
  t.same(c.tokens, []);
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.stores.retained) && Object.isFrozen(c.tiers), 'frozen deeply');
});

t.test('environment variables override the file', async (t) => {
  const c = buildConfig({ host: '0.0.0.0', port: 1 }, { BLOBGATE_HOST: '::1', BLOBGATE_PORT: '9000', BLOBGATE_TOKEN: 'x'.repeat(20), BLOBGATE_DATA_DIR: 'd', BLOBGATE_UPSTREAM_ALLOW: '127.0.0.1, example.com', BLOBGATE_PUBLIC_URL: 'https://bg.example/' }, '/w');
  t.equal(c.host, '::1');
  t.equal(c.port, 9000);
  t.equal(c.dataDir, '/w/d');
  t.same(c.tokens, [{ sha256: sha256Hex('x'.repeat(20)), workspaces: ['*'] }]);
  t.same(c.upstream.allow, ['127.0.0.1', 'example.com']);
  t.equal(c.publicUrl, 'https://bg.example');
});

t.test('every problem is reported at once, with its path', async (t) => {
  const file = {
    prot: 1,
    port: 'x',
    stores: { 'Bad Name': { driver: 'local' }, a: { driver: 'ftp' }, b: { driver: 's3' }, c: { driver: 'local', rooot: '/x' } },
    tiers: { retained: { store: 'missing', 'cap-bytes': -1 } },
    tokens: [{ token: 'short', workspaces: [] }, { workspaces: ['w'] }],
    signing: { secret: 'too-short' },
  };
  const err = t.throws(() => buildConfig(file, { BLOBGATE_PORT: 'abc' }, '/w')) as ConfigError;
  t.type(err, ConfigError);
  const expected = [
    /^prot: unknown key/,
    /^stores\.Bad Name: store names are/,
    /^stores\.a\.driver: must be one of local, s3, gcs/,
    /^stores\.b\.bucket: is required/,
    /^stores\.c\.rooot: unknown key/,
    /^tiers\.retained\.store: names store "missing"/,
    /^tiers\.retained\.cap-bytes: must be an integer/,
    /^tokens\.0\.token: must be at least 16 characters/,
    /^tokens\.1\.token: give exactly one of/,
    /^BLOBGATE_PORT: must be an integer/,
    /^signing\.secret .*at least 32 characters/,
  ];
  for (const re of expected) t.ok(err.problems.some((p) => re.test(p)), `reports ${re}`);
  t.match(err.message, /Invalid configuration/);
});

t.test('loadConfig reads the file named by BLOBGATE_CONFIG', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-cfg-'));
  await writeFile(join(dir, 'c.json'), JSON.stringify({ tokens: [{ token: 'a-long-enough-token', workspaces: ['ws-1'] }], limits: { 'inline-bytes': 1000 } }));
  const c = loadConfig({ BLOBGATE_CONFIG: 'c.json' }, dir);
  t.same(c.tokens, [{ sha256: sha256Hex('a-long-enough-token'), workspaces: ['ws-1'] }]);
  t.equal(c.limits.inlineBytes, 1000);
  t.throws(() => loadConfig({ BLOBGATE_CONFIG: 'missing.json' }, dir), { name: 'ConfigError', message: /missing\.json/ });
  await writeFile(join(dir, 'bad.json'), '{nope');
  t.throws(() => loadConfig({ BLOBGATE_CONFIG: 'bad.json' }, dir), { name: 'ConfigError' });
});

t.test('s3 and gcs stores are read with their options', async (t) => {
  const c = buildConfig(
    {
      stores: {
        s3: { driver: 's3', bucket: 'b', region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', 'force-path-style': true, 'part-size': 8388608, 'queue-size': 2, 'checksum-mode': 'when-required', credentials: { 'access-key-id': 'env:K', 'secret-access-key': 'env:S' } },
        gcs: { driver: 'gcs', bucket: 'g', 'project-id': 'p', 'api-endpoint': 'http://127.0.0.1:8', 'chunk-size': 262144, credentials: 'file:/k.json' },
      },
      tiers: { retained: { store: 'gcs' }, ephemeral: { store: 's3' } },
    },
    {},
    '/w',
  );
  t.same(c.stores.s3, { driver: 's3', bucket: 'b', region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, partSize: 8388608, queueSize: 2, checksumMode: 'when-required', credentials: { accessKeyId: 'env:K', secretAccessKey: 'env:S' } });
  t.same(c.stores.gcs, { driver: 'gcs', bucket: 'g', projectId: 'p', apiEndpoint: 'http://127.0.0.1:8', chunkSize: 262144, credentials: 'file:/k.json' });
  t.throws(() => buildConfig({ stores: { s: { driver: 's3', bucket: 'b', 'part-size': 1024 } }, tiers: { retained: { store: 's' }, ephemeral: { store: 's' } } }, {}, '/w'), { message: /part-size: must be an integer from 5242880/ });
});

t.test("a store's sizes pass config exactly when its driver takes them (one set of limits, the driver's)", async (t) => {
  const { buildS3Client } = await import('../src/storage/s3/client.js');
  const { S3Driver } = await import('../src/storage/s3/s3-driver.js');
  const { MAX_PART_SIZE, MIN_PART_SIZE } = await import('../src/storage/s3/s3-write.js');
  const { buildGcsStorage } = await import('../src/storage/gcs/client.js');
  const { GcsDriver } = await import('../src/storage/gcs/gcs-driver.js');
  const { CHUNK_ALIGN } = await import('../src/storage/gcs/gcs-write.js');
  const tiers = { retained: { store: 's' }, ephemeral: { store: 's' } };
  const configAccepts = (store: Record<string, unknown>): boolean => {
    try {
      buildConfig({ stores: { s: store }, tiers }, {}, '/w');
      return true;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return false;
    }
  };
  const driverAccepts = (make: () => { close(): Promise<void> }): boolean => {
    try {
      void make().close();
      return true;
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      return false;
    }
  };
  // Nothing is sent: the clients are built against a closed port and never used.
  for (const partSize of [MIN_PART_SIZE - 1, MIN_PART_SIZE, 8 * 1024 * 1024 + 1, MAX_PART_SIZE, MAX_PART_SIZE + 1]) {
    const driver = driverAccepts(() => new S3Driver({ client: buildS3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }), bucket: 'b', partSize }));
    t.equal(configAccepts({ driver: 's3', bucket: 'b', 'part-size': partSize }), driver, `part-size ${partSize}: config and driver agree (${driver})`);
  }
  for (const chunkSize of [CHUNK_ALIGN - 1, CHUNK_ALIGN, 300_000, 3 * CHUNK_ALIGN, 32 * CHUNK_ALIGN + 1]) {
    const driver = driverAccepts(() => new GcsDriver({ storage: buildGcsStorage({ apiEndpoint: 'http://127.0.0.1:9', projectId: 'p' }), bucket: 'g', chunkSize }));
    t.equal(configAccepts({ driver: 'gcs', bucket: 'g', 'chunk-size': chunkSize }), driver, `chunk-size ${chunkSize}: config and driver agree (${driver})`);
  }
});
