import { Readable } from 'node:stream';
import t from 'tap';
import { buildConfig } from '../../src/config/load.js';
import { refBody } from '../../src/step/ref-bodies.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { StoreRegistry } from '../../src/storage/registry.js';
import { patternChunk } from '../helpers/bytes.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

t.test('a storage read that fails while sending body-from-ref is an error of that request, not a crash', async (t) => {
  const gw = await startGateway();
  t.teardown(() => gw.close());
  const up = await startUpstream();
  t.teardown(() => up.stop());
  const stored = await gw.step({ request: { url: `${up.url}/bytes/3000000` }, persist: { type: 'blob' } });
  const real = gw.stores.get('retained');
  let destroyed = false;
  // The real driver, whose read stream fails once its first MiB has been read.
  const failing: StorageDriver = Object.assign(Object.create(real) as StorageDriver, {
    read: async (key: string) => {
      const r = await real.read(key);
      r.body.destroy();
      let served = false;
      const body = new Readable({
        read() {
          if (served) return void this.destroy(new Error('disk read failed'));
          served = true;
          this.push(patternChunk(0, 1024 * 1024));
        },
      });
      body.once('close', () => (destroyed = true));
      return { ...r, body };
    },
  });
  const config = buildConfig({}, { BLOBGATE_DATA_DIR: gw.dataDir }, gw.dataDir);
  const { body } = await refBody({ config, stores: StoreRegistry.of({ retained: failing }) }, 'ws-1', stored.json);
  const stream = await body.open(new AbortController().signal);
  await t.rejects(
    (async () => {
      for await (const _ of stream) void _;
    })(),
    { message: /disk read failed/ },
  );
  t.ok(destroyed, 'the failed source was closed');
});
