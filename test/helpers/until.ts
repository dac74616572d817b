/**
 * Waits until `cond` holds, checking every 20 ms, and fails naming `what`
 * after `ms`: tests wait on the state they need, never on a fixed sleep.
 */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
