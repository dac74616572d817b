import { BlobgateError } from '../errors.js';

/**
 * The limit on content and signed reads streaming at once, in total and per
 * workspace. Each read holds a socket and an open stored object until the
 * client has taken the last byte, and a signed URL needs no token, so without
 * a bound anyone holding one could open readers until the process runs out
 * of descriptors. Reads do not wait: past a bound the read is refused at once
 * with `overloaded` (503, Retry-After) — a download is retried by its client,
 * and a queue would hold sockets just the same.
 */
export class ReadGate {
  private running = 0;
  private readonly byWorkspace = new Map<string, number>();

  constructor(
    readonly limit: number,
    readonly workspaceLimit: number,
  ) {}

  get active(): number {
    return this.running;
  }

  /** Takes a slot for a read of `workspace`; the returned function gives it back (once, however often it is called). */
  take(workspace: string): () => void {
    const mine = this.byWorkspace.get(workspace) ?? 0;
    if (this.running >= this.limit) {
      throw new BlobgateError('overloaded', `${this.running} reads are streaming, the limit (limits.reads); retry after a moment.`, { 'retry-after-seconds': 1 });
    }
    if (mine >= this.workspaceLimit) {
      throw new BlobgateError('overloaded', `Workspace "${workspace}" has ${mine} reads streaming, its share (limits.workspace-reads); retry after one finishes.`, { 'retry-after-seconds': 1, workspace });
    }
    this.running++;
    this.byWorkspace.set(workspace, mine + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.running--;
      const left = (this.byWorkspace.get(workspace) ?? 1) - 1;
      if (left === 0) this.byWorkspace.delete(workspace);
      else this.byWorkspace.set(workspace, left);
    };
  }
}
