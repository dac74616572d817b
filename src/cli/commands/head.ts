import type { Command } from 'commander';
import { printJson } from '../output.js';
import { clientFor } from './common.js';

/** `blobgate head <uri>`: the resource's descriptor (its resource ref). */
export function registerHead(program: Command): void {
  program
    .command('head')
    .description('print the descriptor (resource ref) of a resource as JSON (GET /v1/resources)')
    .argument('<uri>', 'resource URI, res://v1/ws/<workspace>/file/blob/<store>/<path>')
    .action(async (uri: string, _opts: unknown, cmd: Command) => {
      printJson(await clientFor(cmd).json('GET', '/v1/resources', { query: { uri } }));
    });
}
