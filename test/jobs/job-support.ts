// Test support for jobs: a reader of a job's server-sent events. (The upstream the job tests hold and
// release is the faults' gated upstream, test/faults/gated-upstream.ts, which counts hits per id.)

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
