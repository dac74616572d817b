import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../app.js';
import { buildConfig } from '../config/load.js';
import { EmbeddedSecrets } from '../secrets/provider.js';
import { StoreRegistry } from '../storage/registry.js';
import { GoogleTokenSource } from '../upstream/google-token.js';
import { UpstreamGuard } from '../upstream/guard.js';

/**
 * The OpenAPI document the route schemas produce, built from a throwaway app
 * (local stores in a temp dir). `npm run openapi` writes it to openapi.json;
 * test/http/openapi.test.ts fails when the file and the routes drift apart.
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
