import { request as httpRequest } from 'node:http';
import type { Test } from 'tap';
import { patternSha256, sha256OfStream } from '../helpers/bytes.js';
import { TOKEN_ALL, type Gateway } from '../helpers/gateway.js';
import type { FaultUpstream } from '../helpers/fault-upstream.js';

/**
 * The fault matrix, against whatever store backs the gateway. After every
 * outcome: on success the stored bytes equal the upstream's; on failure
 * nothing is left (no object under the step's prefix, no in-flight upload).
 */
export interface FaultEnv {
  gw: Gateway;
  fu: FaultUpstream;
  /** Everything physically stored (objects, temp files, uploads, sessions). */
  snapshot(): Promise<unknown>;
  /** Body size; large enough to span several parts/chunks of the store. */
  size?: number;
}

const DEFAULT_SIZE = 3 * 1024 * 1024 + 123;

/** The second request asked for the rest only: from what had arrived (bytes in flight at the break are lost). */
function assertResumedWithin(t: Test, ranges: Array<string | undefined>, brokeAt: number): void {
  t.equal(ranges.length, 2);
  t.equal(ranges[0], undefined, 'a whole request first');
  const from = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1] ?? NaN);
  t.ok(from > 0 && from <= brokeAt, `resumed at byte ${from} (the break came at ${brokeAt})`);
}
let n = 0;

export function faultScenarios(t: Test, env: () => FaultEnv): void {
  const size = (): number => env().size ?? DEFAULT_SIZE;
  const run = async (query: string, retry?: Record<string, unknown>, timeout = 5) => {
    const id = `r${++n}`;
    const res = await env().gw.step({
      request: { url: `${env().fu.url}/f/${id}/${size()}?${query}`, timeout, ...(retry ? { retry } : {}) },
      persist: { type: 'blob', tier: 'ephemeral' },
    });
    return { id, ...res };
  };
  const readBack = async (uri: string) => {
    const res = await fetch(`${env().gw.url}/v1/resources/content?uri=${encodeURIComponent(uri)}`, { headers: { authorization: `Bearer ${TOKEN_ALL}` } });
    return sha256OfStream(res.body as unknown as AsyncIterable<Uint8Array>);
  };
  const retry = { 'max-attempts': 3, 'backoff-ms': 10 };

  t.test('fault: reset mid-body with ranges → resumed into the same write', async (t) => {
    const r = await run('fault=reset&at=1000000&ranges=1', retry);
    t.equal(r.status, 200, JSON.stringify(r.json));
    t.equal(r.json.attempts, 2);
    assertResumedWithin(t, env().fu.ranges(r.id), 1_000_000);
    t.equal(r.json['blob-ref'].sha256, patternSha256(size()));
    t.same(await readBack(r.json.uri), { sha256: patternSha256(size()), size: size() });
  });

  t.test('fault: stall mid-body with ranges → timeout, then resumed', async (t) => {
    const r = await run('fault=stall&at=2000000&ranges=1', retry, 0.5);
    t.equal(r.status, 200, JSON.stringify(r.json));
    assertResumedWithin(t, env().fu.ranges(r.id), 2_000_000);
    t.same(await readBack(r.json.uri), { sha256: patternSha256(size()), size: size() });
  });

  t.test('fault: ETag changed between attempts → resume refused, clean restart', async (t) => {
    const r = await run('fault=reset&at=1000000&ranges=1&etag-change=1', retry);
    t.equal(r.status, 200, JSON.stringify(r.json));
    t.equal(r.json.attempts, 3, 'first request, refused resume, full restart');
    const ranges = env().fu.ranges(r.id);
    t.equal(ranges.length, 3);
    assertResumedWithin(t, ranges.slice(0, 2), 1_000_000);
    t.equal(ranges[2], undefined, 'then a whole request');
    t.same(await readBack(r.json.uri), { sha256: patternSha256(size()), size: size() });
  });

  t.test('fault: reset without range support → restarted from the first byte', async (t) => {
    const r = await run('fault=reset&at=1000000', retry);
    t.equal(r.status, 200);
    t.same(env().fu.ranges(r.id), [undefined, undefined]);
    t.same(await readBack(r.json.uri), { sha256: patternSha256(size()), size: size() });
  });

  t.test('fault: wrong Content-Length (body ends short) → retried, correct bytes', async (t) => {
    const r = await run('fault=short&at=500000', retry);
    t.equal(r.status, 200, JSON.stringify(r.json));
    t.same(await readBack(r.json.uri), { sha256: patternSha256(size()), size: size() });
  });

  t.test('fault: 503 with Retry-After → waited, then served', async (t) => {
    const started = Date.now();
    const r = await run('fault=status&status=503&retry-after=1', retry);
    t.equal(r.status, 200);
    t.ok(Date.now() - started >= 950, 'Retry-After (1 s) was honoured');
    t.equal(r.json.attempts, 2);
  });

  t.test('client disconnect mid-transfer: the upstream is cut off and nothing is left', async (t) => {
    const before = await env().snapshot();
    const id = `d${++n}`;
    const { port } = new URL(env().gw.url);
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/workspaces/ws-1/http', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'application/json' } });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ 'flow-slug': 'f', 'step-id': 's', request: { url: `${env().fu.url}/f/${id}/${size()}?fault=stall&at=${size() - 1000}`, timeout: 30 }, persist: { type: 'blob', tier: 'ephemeral' } }));
    for (let i = 0; i < 200 && env().fu.attempts(id) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    let during: unknown = before;
    for (let i = 0; i < 100 && JSON.stringify(during) === JSON.stringify(before); i++) {
      await new Promise((r) => setTimeout(r, 30));
      during = await env().snapshot();
    }
    t.not(JSON.stringify(during), JSON.stringify(before), 'the write was in progress (temp file, upload or session)');
    req.destroy();
    let after: unknown;
    for (let i = 0; i < 100; i++) {
      after = await env().snapshot();
      if (JSON.stringify(after) === JSON.stringify(before)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    t.same(after, before, 'no object, no temp file, no upload or session left');
  });

  const failures: Array<[string, string, Record<string, unknown> | undefined, string, number?]> = [
    ['reset, no retry', 'fault=reset&at=1000000&ranges=1', undefined, 'upstream_unreachable'],
    ['stall, no retry', 'fault=stall&at=1000000', undefined, 'upstream_timeout', 0.5],
    ['short body, no retry', 'fault=short&at=500000', undefined, 'upstream_unreachable'],
    ['503 on every attempt', 'fault=status&status=503&faults=9', { 'max-attempts': 2, 'backoff-ms': 10 }, 'upstream_status'],
    ['reset on every attempt', 'fault=reset&at=1000000&ranges=1&faults=9', retry, 'upstream_unreachable'],
    ['ETag changes and attempts run out', 'fault=reset&at=1000000&ranges=1&etag-change=1&faults=9', { 'max-attempts': 2, 'backoff-ms': 10 }, 'upstream_unreachable'],
  ];
  for (const [name, query, policy, code, timeout] of failures) {
    t.test(`fault fails cleanly: ${name} → ${code}, nothing left`, async (t) => {
      const before = await env().snapshot();
      const r = await run(query, policy, timeout);
      t.equal(r.json.error?.code, code, JSON.stringify(r.json));
      t.same(await env().snapshot(), before, 'no object, no temp file, no upload or session left');
    });
  }
}
