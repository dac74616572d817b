import t from 'tap';
import { decodeRecordCursor, encodeRecordCursor } from '../../src/storage/records.js';

/** S3's and GCS's limit on an object name, which no record key exceeds. */
const RECORD_KEY_MAX_BYTES = 1024;

/*
 * A records cursor names a key the next page starts after; the store gets it
 * as S3 StartAfter or GCS startOffset. A key no record can have — longer than
 * an object name may be, or with a control character — is refused here, so a
 * real store's 400 for it never comes back as a 502 (the project's test
 * servers accept such keys, so only this check stands in the way).
 */
const prefix = 'jobs/ws-1/';

t.test('a cursor this API returns decodes to its key', async (t) => {
  const key = `${prefix}${'j'.repeat(100)}.json`;
  t.equal(decodeRecordCursor(encodeRecordCursor(key), prefix), key);
  const longest = `${prefix}${'k'.repeat(RECORD_KEY_MAX_BYTES - prefix.length)}`;
  t.equal(decodeRecordCursor(encodeRecordCursor(longest), prefix), longest, 'exactly the limit is a key');
});

t.test('keys longer than an object name may be, or with control characters, are invalid_request', async (t) => {
  const bad = [
    `${prefix}${'k'.repeat(RECORD_KEY_MAX_BYTES - prefix.length + 1)}`,
    `${prefix}${'é'.repeat(600)}`, // 1,200 bytes in 610 characters
    `${prefix}a\u0000b`,
    `${prefix}a\r\nb`,
    `${prefix}a\u007fb`,
    `${prefix}\u0001`,
  ];
  for (const key of bad) {
    t.throws(() => decodeRecordCursor(encodeRecordCursor(key), prefix), { code: 'invalid_request', details: { field: 'cursor' } }, JSON.stringify(key.slice(prefix.length, prefix.length + 12)));
  }
});
