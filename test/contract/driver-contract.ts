import { randomUUID } from 'node:crypto';
import type { Test } from 'tap';
import { type ConformanceContext, skipReason } from '../../src/conformance/context.js';
import { CheckFailure } from '../../src/conformance/failure.js';
import { CONFORMANCE_CHECKS, cleanup } from '../../src/conformance/list.js';
import type { StorageDriver } from '../../src/storage/driver.js';

/**
 * The tap runner of the conformance list (src/conformance/list.ts; the other
 * runner is `blobgate smoke`): every check of the list, in order, against a
 * fresh driver on a real server, each a subtest — skipped, with the reason,
 * where the driver lacks the capability its section needs — then the cleanup,
 * which must leave nothing listed and no backend debris. Unlike the smoke,
 * this runner sees inside the backend (`leftovers`), so every "nothing left
 * behind" is checked there too.
 */
export interface ContractHarness {
  driver: StorageDriver;
  /** Backend-specific debris: anything in-flight that a finished or failed write must not leave. */
  leftovers(): Promise<string[]>;
  /** The write unit the checks size their bodies by; default the driver's writeUnitBytes, else 1 MiB. */
  unit?: number;
  /** Checks whose "not enforced by this backend" is expected here (fauxqs checks no signature); anywhere else it fails. */
  notEnforced?: string[];
}

export function driverContract(t: Test, name: string, open: () => Promise<ContractHarness>): void {
  t.test(`${name}: storage driver contract`, async (t) => {
    const h = await open();
    const { driver } = h;
    t.teardown(() => driver.close());
    const ctx: ConformanceContext = {
      driver,
      prefix: `workspaces/ws-contract/${randomUUID()}/`,
      unit: h.unit ?? driver.writeUnitBytes ?? 1024 * 1024,
      ...(driver.signUrl ? { sign: (key: string, ttl: number) => driver.signUrl!({ key, expiresInSeconds: ttl }) } : {}),
      fetch: globalThis.fetch,
      signal: new AbortController().signal,
      leftovers: () => h.leftovers(),
      attempted: new Set(),
      written: new Map(),
    };
    for (const check of CONFORMANCE_CHECKS) {
      const skip = skipReason(check, ctx);
      const title = check.section === 'core' || check.section === check.name ? check.name : `${check.section}: ${check.name}`;
      t.test(title, skip ? { skip } : {}, async (t) => {
        const result = await check.run(ctx).catch((err: unknown) => {
          // A check's verdict is its message; anything else is reported by tap with its stack.
          if (err instanceof CheckFailure) return { ok: false as const, detail: err.message };
          throw err;
        });
        const outcome = typeof result === 'string' ? { ok: true, detail: result } : result;
        if (outcome.ok === 'not-enforced') {
          t.ok(h.notEnforced?.includes(check.name), `${outcome.detail} (expected to be enforced here)`);
        } else {
          t.ok(outcome.ok ?? true, outcome.detail ?? check.name);
        }
      });
    }
    t.test('cleanup: nothing listed, no backend debris', async (t) => {
      t.match(await cleanup(ctx), /^nothing left under workspaces\/ws-contract\//);
    });
  });
}
