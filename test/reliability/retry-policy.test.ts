import t from 'tap';
import { backoffDelay, isRetryable, parseRetry, parseRetryAfter } from '../../src/upstream/retry.js';
import { BlobgateError } from '../../src/errors.js';
import { startFaultUpstream } from '../helpers/fault-upstream.js';
import { startGateway } from '../helpers/gateway.js';

t.test('parseRetry validates and defaults to one attempt', async (t) => {
  t.same(parseRetry(undefined), { maxAttempts: 1, backoffMs: 0, maxBackoffMs: 0, nonIdempotent: false });
  t.same(parseRetry({ 'max-attempts': 3, 'backoff-ms': 500 }), { maxAttempts: 3, backoffMs: 500, maxBackoffMs: 30000, nonIdempotent: false });
  t.throws(() => parseRetry({ 'max-attempts': 0 }), { code: 'invalid_request' });
  t.throws(() => parseRetry({ attempts: 3 }), { code: 'invalid_request', message: /request\.retry\.attempts/ });
});

t.test('backoff: exponential ceiling with full jitter, Retry-After bounded', async (t) => {
  const p = { maxAttempts: 5, backoffMs: 100, maxBackoffMs: 1000, nonIdempotent: false };
  t.equal(backoffDelay(p, 2, undefined, () => 1), 100);
  t.equal(backoffDelay(p, 3, undefined, () => 1), 200);
  t.equal(backoffDelay(p, 5, undefined, () => 1), 800);
  t.equal(backoffDelay(p, 9, undefined, () => 1), 1000, 'capped');
  t.equal(backoffDelay(p, 3, undefined, () => 0), 0, 'jitter reaches down to 0');
  t.equal(backoffDelay(p, 2, 5000), 5000, 'Retry-After wins');
  t.equal(backoffDelay(p, 2, 3_600_000), 60000, 'Retry-After bounded at 60 s');
  t.equal(parseRetryAfter('7'), 7000);
  const fromDate = parseRetryAfter(new Date(Date.now() + 10_000).toUTCString(), Date.now()) ?? 0;
  t.ok(fromDate > 8000 && fromDate <= 10_000, `an HTTP date is a delay from now (${fromDate} ms)`);
  t.equal(parseRetryAfter('soon'), undefined);
});

t.test('what is retryable', async (t) => {
  t.ok(isRetryable(new BlobgateError('upstream_unreachable', 'x')));
  t.ok(isRetryable(new BlobgateError('upstream_timeout', 'x')));
  for (const status of [408, 429, 500, 502, 503, 504]) t.ok(isRetryable(new BlobgateError('upstream_status', 'x', { status })), String(status));
  for (const status of [400, 401, 403, 404, 501]) t.notOk(isRetryable(new BlobgateError('upstream_status', 'x', { status })), String(status));
  t.notOk(isRetryable(new BlobgateError('cap_exceeded', 'x')));
  t.notOk(isRetryable(new BlobgateError('destination_blocked', 'x')));
});

t.test('POST is retried only when the step asks for non-idempotent retries', async (t) => {
  const gw = await startGateway();
  const fu = await startFaultUpstream();
  t.teardown(async () => {
    await gw.close();
    await fu.stop();
  });
  const once = await gw.step({ request: { url: `${fu.url}/f/p1/10?fault=status&status=503`, method: 'post', body: 'x', retry: { 'max-attempts': 3, 'backoff-ms': 1 } } });
  t.equal(once.json.error.code, 'upstream_status');
  t.equal(fu.attempts('p1'), 1, 'not retried');
  const opted = await gw.step({ request: { url: `${fu.url}/f/p2/10?fault=status&status=503`, method: 'post', body: 'x', retry: { 'max-attempts': 3, 'backoff-ms': 1, 'non-idempotent': true } }, persist: { type: 'blob' } });
  t.equal(opted.status, 200, JSON.stringify(opted.json));
  t.equal(fu.attempts('p2'), 2);
  t.equal(opted.json.attempts, 2);
  const get = await gw.step({ request: { url: `${fu.url}/f/p3/10?fault=status&status=429&faults=2`, retry: { 'max-attempts': 3, 'backoff-ms': 1 } }, persist: { type: 'blob' } });
  t.equal(get.status, 200);
  t.equal(get.json.attempts, 3);
  const notFound = await gw.step({ request: { url: `${fu.url}/f/p4/10?fault=status&status=404`, retry: { 'max-attempts': 3, 'backoff-ms': 1 } } });
  t.equal(notFound.json.error.details.status, 404);
  t.equal(fu.attempts('p4'), 1, '404 is not retried');
});
