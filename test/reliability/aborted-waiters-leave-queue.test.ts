import t from 'tap';
import { BlobgateError } from '../../src/errors.js';
import { TransferGate } from '../../src/http/transfer-gate.js';

t.test('aborted waiters do not hold places in the queue', async (t) => {
  const gate = new TransferGate(1, 2);
  let release!: () => void;
  const running = gate.run(new AbortController(), () => new Promise<void>((r) => (release = r)));
  const waiters = [new AbortController(), new AbortController()];
  const queued = waiters.map((c) => gate.run(c, async () => undefined).catch((e: unknown) => e));
  t.equal(gate.queued, 2);
  for (const c of waiters) c.abort(new BlobgateError('aborted', 'client left'));
  t.same((await Promise.all(queued)).map((e) => (e as BlobgateError).code), ['aborted', 'aborted']);
  t.equal(gate.queued, 0);
  const fresh = gate.run(new AbortController(), async () => 'ran');
  release();
  await running;
  t.equal(await fresh, 'ran', 'accepted, not overloaded');
});
