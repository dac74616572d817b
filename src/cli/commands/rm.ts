import type { Command } from 'commander';
import { clientFor } from './common.js';

/** `blobgate rm <uri>`: delete; idempotent like the API (a missing resource is not an error). */
export function registerRm(program: Command): void {
  program
    .command('rm')
    .description('delete a resource (DELETE /v1/resources; deleting a missing one succeeds)')
    .argument('<uri>', 'resource URI (res://…)')
    .action(async (uri: string, _opts: unknown, cmd: Command) => {
      await clientFor(cmd).json('DELETE', '/v1/resources', { query: { uri } });
    });
}
