// Test support for jobs: an upstream whose bodies the test releases and whose hits it counts,
// and a reader of a job's server-sent events.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { patternChunk } from '../helpers/bytes.js';

export interface HeldUpstream {
  url: string;
  /** Requests seen for `id`. */
  hits(id: string): number;
  /** Resolves once a response for `id` has sent its first `hold` bytes. */
  held(id: string): Promise<void>;
  /** Lets every response for `id`, now and later, send the rest. */
  release(id: string): void;
  stop(): Promise<void>;
}

/** GET /held/<id>/<size>?hold=<n>: sends n pattern bytes, waits for release(id), sends the rest. */
export async function startHeldUpstream(): Promise<HeldUpstream> {
  const gates = new Map<string, { hits: number; held: Promise<void>; onHeld: () => void; released: Promise<void>; release: () => void }>();
  const gate = (id: string) => {
    let g = gates.get(id);
    if (!g) {
      let onHeld!: () => void;
      let release!: () => void;
      const held = new Promise<void>((r) => (onHeld = r));
      const released = new Promise<void>((r) => (release = r));
      gates.set(id, (g = { hits: 0, held, onHeld, released, release }));
    }
    return g;
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, kind, id = '', sizeText = '0'] = url.pathname.split('/');
    if (kind !== 'held') return void res.writeHead(404).end();
    const size = Number(sizeText);
    const hold = Math.min(size, Number(url.searchParams.get('hold') ?? size));
    const g = gate(id);
    g.hits++;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    void (async () => {
      let off = 0;
      const sendUpTo = async (end: number): Promise<void> => {
        while (off < end) {
          const n = Math.min(64 * 1024, end - off);
          const ok = res.write(patternChunk(off, n));
          off += n;
          if (!ok) await new Promise((r) => res.once('drain', r));
        }
      };
      await sendUpTo(hold);
      g.onHeld();
      if (hold < size) {
        await g.released;
        await sendUpTo(size);
      }
      res.end();
    })().catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: (id) => gates.get(id)?.hits ?? 0,
    held: (id) => gate(id).held,
    release: (id) => gate(id).release(),
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

/**
 * Reads a job's event stream until its `done` event (or `stopWhen` says so),
 * calling `onEvent` for each event as it arrives.
 */
export async function readEvents(url: string, token: string, opts: { lastEventId?: string; onEvent?: (e: SseEvent) => void; stopWhen?: (e: SseEvent) => boolean } = {}): Promise<{ status: number; contentType: string | null; events: SseEvent[] }> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, ...(opts.lastEventId ? { 'last-event-id': opts.lastEventId } : {}) }, signal: controller.signal });
  const events: SseEvent[] = [];
  if (!res.ok || !res.body) return { status: res.status, contentType: res.headers.get('content-type'), events };
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const e: SseEvent = { event: 'message', data: undefined };
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) e.id = line.slice(4);
          else if (line.startsWith('event: ')) e.event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (!data) continue;
        e.data = JSON.parse(data);
        events.push(e);
        opts.onEvent?.(e);
        if (e.event === 'done' || opts.stopWhen?.(e)) {
          controller.abort();
          return { status: res.status, contentType: res.headers.get('content-type'), events };
        }
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  }
  return { status: res.status, contentType: res.headers.get('content-type'), events };
}
