import { Option, type Command } from 'commander';
import { printJson } from '../output.js';
import { clientFor, defined, seg } from './common.js';

interface FetchOptions {
  workspace: string;
  tier?: 'retained' | 'ephemeral';
  path?: string;
  filename?: string;
  flowSlug: string;
  stepId: string;
}

/** `blobgate fetch <url> --workspace <ws>`: the gateway downloads the URL straight into a store. */
export function registerFetch(program: Command): void {
  program
    .command('fetch')
    .description('have the gateway download a URL into a store (POST /v1/workspaces/:ws/http with a persist spec) and print the resource ref')
    .argument('<url>', 'the http(s) URL the gateway fetches')
    .requiredOption('-w, --workspace <ws>', 'workspace to persist into')
    .addOption(new Option('--tier <tier>', 'storage tier (gateway default: retained)').choices(['retained', 'ephemeral']))
    .option('--path <path>', 'folder path of the blob; may use {{…}} templates')
    .option('--filename <name>', 'name of the blob (default: the last segment of the URL path)')
    .option('--flow-slug <slug>', 'flow slug recorded in the key', 'cli')
    .option('--step-id <id>', 'step id recorded in the key', 'fetch')
    .action(async (url: string, opts: FetchOptions, cmd: Command) => {
      const body = {
        'flow-slug': opts.flowSlug,
        'step-id': opts.stepId,
        request: { url, 'response-as': 'bytes' },
        persist: { type: 'blob', ...defined({ tier: opts.tier, path: opts.path, filename: opts.filename }) },
      };
      const ref = await clientFor(cmd).json('POST', `/v1/workspaces/${seg(opts.workspace)}/http`, { json: body, noHeadersTimeout: true });
      printJson(ref);
    });
}
