import t from 'tap';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { BlobgateError } from '../../src/errors.js';
import { tamperSignature } from '../../src/conformance/signing.js';
import { CheckFailure, describeError } from '../../src/conformance/failure.js';
import { formatJson, formatReport, resultLabel, summaryLine } from '../../src/smoke/format.js';
import { summarize, type SmokeReport } from '../../src/smoke/run.js';

t.test('the table: store, check, result (PASS/FAIL/N-E), ms, detail; then the summary line', async (t) => {
  const report = summarize([
    {
      store: 'archive',
      backend: 's3',
      rows: [
        { check: 'write small', ok: true, ms: 12, detail: '4096 bytes' },
        { check: 'tampered url', ok: 'not-enforced', ms: 3, detail: 'not enforced by this backend' },
        { check: 'delete', ok: false, ms: 1500, detail: 'storage_error: boom' },
        { check: 'cleanup', ok: true, ms: 4 },
      ],
    },
  ]);
  t.same({ passed: report.passed, failed: report.failed, notEnforced: report.notEnforced }, { passed: 2, failed: 1, notEnforced: 1 });
  t.equal(
    formatReport(report),
    [
      'store         check         result    ms  detail',
      'archive (s3)  write small   PASS      12  4096 bytes',
      'archive (s3)  tampered url  N-E        3  not enforced by this backend',
      'archive (s3)  delete        FAIL    1500  storage_error: boom',
      'archive (s3)  cleanup       PASS       4',
      'smoke: 2 passed, 1 failed, 1 not enforced',
    ].join('\n'),
  );
  t.equal(summaryLine({ passed: 5, failed: 0, notEnforced: 0 }), 'smoke: 5 passed, 0 failed', 'no "not enforced" part when there is none');
  t.same([resultLabel(true), resultLabel(false), resultLabel('not-enforced')], ['PASS', 'FAIL', 'N-E']);
  t.same(JSON.parse(formatJson(report)) as SmokeReport, report, 'the JSON output is the report');
});

t.test('tampering changes one character of the signature parameter only, in the raw query', async (t) => {
  const s3 = 'http://h/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abcdef0123&x-id=GetObject';
  const out = tamperSignature(s3)!;
  t.equal(out.param, 'X-Amz-Signature');
  t.equal(out.url, s3.replace('X-Amz-Signature=abcdef0123', 'X-Amz-Signature=abcde00123'));
  t.equal(tamperSignature('http://h/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=ff00')!.url, 'http://h/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=ff10');
  t.equal(tamperSignature('http://h/v1/signed/s/k?expires=9&signature=0f')!.url, 'http://h/v1/signed/s/k?expires=9&signature=00');
  t.equal(tamperSignature('http://h/v1/signed/s/k?expires=9'), undefined);
  t.equal(tamperSignature('http://h/x'), undefined);
});

t.test('error details: the driver error, what the backend said, one line, keys relative to the prefix', async (t) => {
  const prefix = 'workspaces/_smoke/1234/';
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED', $metadata: { attempts: 3 } });
  t.equal(
    describeError(new BlobgateError('storage_error', `The S3 store failed while listing ${prefix}; see the server log.`, undefined, { cause: refused }), prefix),
    'storage_error: The S3 store failed while listing …/. — cause: connect ECONNREFUSED 127.0.0.1:9',
  );
  const noBucket = new S3ServiceException({ name: 'NoSuchBucket', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'The specified bucket does not exist' });
  t.equal(describeError(new BlobgateError('storage_error', 'The S3 store failed while writing x.', undefined, { cause: noBucket })), 'storage_error: The S3 store failed while writing x. — cause: NoSuchBucket (HTTP 404): The specified bucket does not exist');
  const gaxios = Object.assign(new Error('The specified bucket does not exist.\nmore lines'), { code: 404 });
  t.equal(describeError(new BlobgateError('storage_error', 'The GCS store failed.', undefined, { cause: gaxios })), 'storage_error: The GCS store failed. — cause: HTTP 404: The specified bucket does not exist.');
  t.equal(describeError(new AggregateError([new Error('connect ECONNREFUSED ::1:9')], '')), 'connect ECONNREFUSED ::1:9');
  t.equal(describeError(new CheckFailure(`kept as written ${prefix}`), prefix), `kept as written ${prefix}`);
  t.equal(describeError('x'.repeat(400)).length, 300, 'clipped');
});
