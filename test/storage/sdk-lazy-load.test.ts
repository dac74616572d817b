// The S3 and GCS SDKs (~23 and ~33 MiB resident at rest) load only when a
// store of that kind is opened: reading a config that names S3 and GCS stores
// (what `blobgate config check` does) loads neither, nor does opening local
// stores. Each case runs in a fresh process whose module resolver refuses
// any @aws-sdk/ or @google-cloud/ package, so a load is an error naming it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const root = new URL('../..', import.meta.url).pathname;

const REFUSE_SDKS = `export async function resolve(specifier, context, next) {
  if (/^@aws-sdk\\/|^@google-cloud\\//.test(specifier)) throw new Error('SDK loaded: ' + specifier);
  return next(specifier, context);
}`;

/** Runs `body` (module code with loadConfig and StoreRegistry in scope) in a fresh process that refuses the SDKs. */
function run(config: unknown, body: string): { status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bg-lazy-'));
  try {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ 'data-dir': dir, ...(config as object) }));
    const script = [
      "import { register } from 'node:module';",
      `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(REFUSE_SDKS)}));`,
      "const { loadConfig } = await import('./src/config/load.ts');",
      "const { StoreRegistry } = await import('./src/storage/registry.ts');",
      body,
    ].join('\n');
    const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      env: { PATH: process.env.PATH, BLOBGATE_CONFIG: join(dir, 'config.json') },
      encoding: 'utf8',
    });
    return { status: out.status, stderr: out.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const cloud = {
  stores: {
    s3: { driver: 's3', bucket: 'b', endpoint: 'http://127.0.0.1:9', 'part-size': 8388608 },
    gcs: { driver: 'gcs', bucket: 'g', 'api-endpoint': 'http://127.0.0.1:9', 'chunk-size': 262144 },
  },
  tiers: { retained: { store: 's3' }, ephemeral: { store: 'gcs' } },
};

t.test('reading a config with S3 and GCS stores loads neither SDK', async (t) => {
  const r = run(cloud, "const c = loadConfig(); if (c.stores.s3.partSize !== 8388608 || c.stores.gcs.chunkSize !== 262144) throw new Error('not read');");
  t.equal(r.stderr, '');
  t.equal(r.status, 0);
});

t.test('opening local stores loads neither SDK', async (t) => {
  const r = run({}, 'const stores = await StoreRegistry.open(loadConfig()); await stores.close();');
  t.equal(r.stderr, '');
  t.equal(r.status, 0);
});

t.test('the check sees a load: opening an S3 or a GCS store loads its SDK', async (t) => {
  for (const [name, sdk] of [['s3', '@aws-sdk/'], ['gcs', '@google-cloud/']] as const) {
    const r = run(cloud, `const c = loadConfig(); await StoreRegistry.open({ ...c, stores: { ${name}: c.stores.${name} } });`);
    t.not(r.status, 0, name);
    t.match(r.stderr, `SDK loaded: ${sdk}`, name);
  }
});
