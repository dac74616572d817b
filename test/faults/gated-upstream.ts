// An upstream whose body the test releases: GET /gated/<id>/<size>?hold=<n>
// sends n pattern bytes, then waits until release(id), then sends the rest.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { patternChunk } from '../helpers/bytes.js';

export interface GatedUpstream {
  url: string;
  /** Requests seen for `id`. */
  hits(id: string): number;
  /** Resolves once the first `hold` bytes of `id` were written. */
  held(id: string): Promise<void>;
  release(id: string): void;
  stop(): Promise<void>;
}

export async function startGatedUpstream(): Promise<GatedUpstream> {
  const gates = new Map<string, { held: Promise<void>; onHeld: () => void; released: Promise<void>; release: () => void }>();
  const hits = new Map<string, number>();
  const gate = (id: string) => {
    let g = gates.get(id);
    if (!g) {
      let onHeld!: () => void;
      let release!: () => void;
      const held = new Promise<void>((r) => (onHeld = r));
      const released = new Promise<void>((r) => (release = r));
      gates.set(id, (g = { held, onHeld, released, release }));
    }
    return g;
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, kind, id = '', sizeText = '0'] = url.pathname.split('/');
    if (kind !== 'gated') return void res.writeHead(404).end();
    const size = Number(sizeText);
    const hold = Math.min(size, Number(url.searchParams.get('hold') ?? size));
    const g = gate(id);
    hits.set(id, (hits.get(id) ?? 0) + 1);
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
    hits: (id) => hits.get(id) ?? 0,
    held: (id) => gate(id).held,
    release: (id) => gate(id).release(),
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
