import { createInterface } from 'node:readline/promises';
import { Option, type Command } from 'commander';
import type { StepRequestBody } from '../../client/index.js';
import { cli, outcome, submitJob, typedClient, watchJob } from '../jobs-client.js';
import { printJson } from '../output.js';
import { CliError } from '../output.js';
import { clientFor, defined, positiveInt } from './common.js';

interface FetchOptions {
  workspace: string;
  tier?: 'retained' | 'ephemeral';
  path?: string;
  filename?: string;
  flowSlug: string;
  stepId: string;
  detach?: boolean;
  method?: string;
  header: string[];
  query: string[];
  json?: string;
  timeout?: number;
  retry?: number;
  slot?: string;
  root?: string;
}

/**
 * `blobgate fetch <url> --workspace <ws>`: the gateway downloads the URL
 * straight into a store, as a job (README "Jobs and idempotency"): the
 * server-side transfer is shown on the progress bar of `get`/`put`, and the
 * resource ref printed at the end. Ctrl-C asks whether to cancel the job or
 * leave it running (without a terminal it cancels; `--detach` prints the job
 * at once instead of waiting).
 */
export function registerFetch(program: Command): void {
  program
    .command('fetch')
    .description('have the gateway download a URL into a store (a job of POST /v1/workspaces/:ws/http with a persist spec) and print the resource ref')
    .argument('<url>', 'the http(s) URL the gateway fetches')
    .requiredOption('-w, --workspace <ws>', 'workspace to persist into')
    .addOption(new Option('--tier <tier>', 'storage tier (gateway default: retained)').choices(['retained', 'ephemeral']))
    .option('--path <path>', 'folder path of the blob; may use {{…}} templates')
    .option('--filename <name>', 'name of the blob (default: the last segment of the URL path)')
    .option('--flow-slug <slug>', 'flow slug recorded in the key', 'cli')
    .option('--step-id <id>', 'step id recorded in the key', 'fetch')
    .addOption(new Option('--method <method>', 'HTTP method of the upstream request (default GET)').choices(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'get', 'post', 'put', 'patch', 'delete']))
    .option('--header <name:value>', 'an upstream request header (repeatable)', collect, [])
    .option('--query <name=value>', 'a query parameter added to the URL (repeatable)', collect, [])
    .option('--json <json>', 'a JSON request body (sent with content-type application/json)')
    .option('--timeout <seconds>', 'upstream timeout in seconds', positiveInt)
    .option('--retry <attempts>', 'most upstream attempts (retries with backoff on 5xx, 429 and network errors)', positiveInt)
    .option('--slot <name>', 'persist through this storage slot (with --root)')
    .option('--root <root>', 'storage root of the slot')
    .option('--detach', 'submit the job, print it and exit; follow it with `blobgate jobs watch`')
    .action(async (url: string, opts: FetchOptions, cmd: Command) => {
      if ((opts.root === undefined) !== (opts.slot === undefined)) {
        throw new CliError('invalid_request', '--slot and --root go together: the slot to persist through and its storage root.', undefined, 2);
      }
      let json: unknown;
      if (opts.json !== undefined) {
        try {
          json = JSON.parse(opts.json);
        } catch {
          throw new CliError('invalid_request', '--json is not valid JSON.', undefined, 2);
        }
      }
      const body: StepRequestBody = {
        'flow-slug': opts.flowSlug,
        'step-id': opts.stepId,
        request: {
          url,
          'response-as': 'bytes',
          ...(opts.method ? { method: opts.method.toUpperCase() as 'GET' } : {}),
          ...(opts.header.length ? { headers: pairs(opts.header, ':', '--header') } : {}),
          ...(opts.query.length ? { query: pairs(opts.query, '=', '--query') } : {}),
          ...(json !== undefined ? { json } : {}),
          ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}),
          ...(opts.retry !== undefined ? { retry: { 'max-attempts': opts.retry } } : {}),
        },
        persist: { type: 'blob', ...defined({ tier: opts.tier, path: opts.path, filename: opts.filename, slot: opts.slot }) },
        ...(opts.slot !== undefined && opts.root !== undefined ? { slots: { [opts.slot]: { root: opts.root } } } : {}),
      };
      const client = clientFor(cmd);
      const job = await submitJob(client, opts.workspace, body);
      if (opts.detach) return printJson(job);
      const watching = new AbortController();
      let interrupted: 'cancel' | 'detach' | undefined;
      const onSigint = (): void => {
        void decide().then((choice) => {
          interrupted = choice;
          watching.abort();
        });
      };
      process.once('SIGINT', onSigint);
      try {
        const final = await watchJob(client, opts.workspace, job.id, watching.signal, url.split('/').at(-1) || job.id);
        if (final) return printJson(outcome(final));
      } finally {
        process.off('SIGINT', onSigint);
      }
      if (interrupted === 'detach') {
        process.stderr.write(`left running: blobgate jobs watch ${job.id} -w ${opts.workspace}\n`);
        return printJson(job);
      }
      const cancelled = await cli(client, () => typedClient(client).cancelJob(opts.workspace, job.id));
      process.stderr.write(`cancelled job ${job.id}\n`);
      printJson(cancelled);
      process.exitCode = 130;
    });
}

/** On a terminal, ask; otherwise cancel. */
async function decide(): Promise<'cancel' | 'detach'> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return 'cancel';
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question('\ncancel the transfer on the gateway? [y = cancel, n = leave it running] ');
    return /^y/i.test(answer.trim()) ? 'cancel' : 'detach';
  } finally {
    rl.close();
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `name:value` / `name=value` options as an object; a value without the separator is a usage error. */
function pairs(values: string[], sep: string, option: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const at = v.indexOf(sep);
    if (at <= 0) throw new CliError('invalid_request', `${option} ${JSON.stringify(v)} must be name${sep}value.`, undefined, 2);
    out[v.slice(0, at).trim()] = v.slice(at + 1).trim();
  }
  return out;
}
