// Small helpers shared by the GCS test-server tests (not a test file itself).
import { createHash } from 'node:crypto';

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
export const md5b64 = (b: Uint8Array): string => createHash('md5').update(b).digest('base64');

export interface RawResponse {
  status: number;
  headers: Headers;
  body: Buffer;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text(): string;
}

/** Plain HTTP to the loopback test server (global fetch, no client library involved). */
export async function raw(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string } = {},
): Promise<RawResponse> {
  const res = await fetch(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body, redirect: 'manual' });
  const body = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    headers: res.headers,
    body,
    json: () => JSON.parse(body.toString('utf8')),
    text: () => body.toString('utf8'),
  };
}

/** Status code carried by an error from @google-cloud/storage (ApiError or GaxiosError). */
export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const v of [e?.response?.status, e?.status, e?.code]) {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && /^\d{3}$/.test(v)) return Number(v);
  }
  return undefined;
}

/** Never let loopback traffic go through a proxy configured in the environment (one home: the test servers'). */
export { bypassProxyForLoopback } from '../../support/servers/loopback.js';

export const sleep = (ms: number): Promise<void> => new Promise(r => setTimeout(r, ms));
