import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sidecarScenarios } from './search-sidecar-scenarios.js';

sidecarScenarios(t, 'local', async () => {
  const root = await mkdtemp(join(tmpdir(), 'bg-sidecar-'));
  return { section: { driver: 'local', root }, stop: () => rm(root, { recursive: true, force: true }) };
});
