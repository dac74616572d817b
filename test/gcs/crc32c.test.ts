// The native CRC32C the GCS client validates uploads with must agree with the
// client's own implementation and with the test server's independent one
// (which rejects an upload whose X-Goog-Hash differs), over any split of the
// bytes into chunks.
import { CRC32C } from '@google-cloud/storage';
import t from 'tap';
import { nativeCrc32cGenerator } from '../../src/storage/gcs/crc32c.js';
import { crc32cBase64, crc32cToBase64, crc32cUpdate } from '../../support/servers/gcs/crc32c.js';
import { patternChunk } from '../helpers/bytes.js';

t.test('known values', async (t) => {
  const v = nativeCrc32cGenerator();
  t.equal(v.toString(), 'AAAAAA==', 'empty input');
  v.update(Buffer.from('data'));
  t.equal(v.toString(), 'rth90Q==', 'the client documentation’s example');
  t.ok(v.validate('rth90Q=='));
  t.notOk(v.validate('DkjKuA=='));
  // RFC 3720 B.4: 32 bytes of zeros → 0x8a9136aa
  const zeros = nativeCrc32cGenerator();
  zeros.update(Buffer.alloc(32));
  t.equal(zeros.toString(), Buffer.from([0x8a, 0x91, 0x36, 0xaa]).toString('base64'));
});

t.test('agrees with the client and the test server over chunk splits', async (t) => {
  for (const size of [1, 7, 4096, 65_537, 1_048_583]) {
    const data = patternChunk(0, size);
    const want = crc32cBase64(data);
    const client = new CRC32C();
    client.update(data);
    t.equal(client.toString(), want, `${size} B: the client and the test server agree`);
    for (const step of [1, 13, 4096, size]) {
      if (size > 100_000 && step < 4096) continue;
      const v = nativeCrc32cGenerator();
      for (let at = 0; at < size; at += step) v.update(data.subarray(at, at + step));
      t.equal(v.toString(), want, `${size} B in ${step} B chunks`);
      let server = 0;
      for (let at = 0; at < size; at += step) server = crc32cUpdate(data.subarray(at, at + step), server);
      t.equal(crc32cToBase64(server), want, `${size} B in ${step} B chunks, the test server incrementally`);
    }
  }
});
