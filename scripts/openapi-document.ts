import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app.js';
import { buildConfig } from '../src/config/load.js';
import { EmbeddedSecrets } from '../src/secrets/provider.js';
import { StoreRegistry } from '../src/storage/registry.js';
import { GoogleTokenSource } from '../src/upstream/google-token.js';
import { UpstreamGuard } from '../src/upstream/guard.js';

/**
 * The OpenAPI document the route schemas produce, built from a throwaway app
 * (local stores in a temp dir). `npm run openapi` writes it to openapi.json;
 * test/http/openapi.test.ts fails when the file and the routes drift apart.
 * A build tool, so it lives beside the script rather than in the HTTP layer.
 */
export async function generateOpenApi(): Promise<unknown> {
  const dir = await mkdtemp(join(tmpdir(), 'bg-openapi-'));
  const config = buildConfig({}, { BLOBGATE_DATA_DIR: dir }, dir);
  const stores = await StoreRegistry.open(config);
  const guard = new UpstreamGuard([]);
  const app = buildApp({ config, stores, guard, secrets: new EmbeddedSecrets(undefined, {}), google: new GoogleTokenSource(guard), signingSecret: 'x'.repeat(32), logger: false });
  try {
    await app.ready();
    return app.swagger();
  } finally {
    await app.close();
    await guard.close();
    await stores.close();
    await rm(dir, { recursive: true, force: true });
  }
}
