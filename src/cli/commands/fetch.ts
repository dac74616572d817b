import { createInterface } from 'node:readline/promises';
import { Option, type Command } from 'commander';
import type { StepRequestBody } from '../../client/index.js';
import { cli, outcome, submitJob, typedClient, watchJob } from '../jobs-client.js';
import { printJson } from '../output.js';
import { clientFor, defined } from './common.js';

interface FetchOptions {
  workspace: string;
  tier?: 'retained' | 'ephemeral';
  path?: string;
  filename?: string;
  flowSlug: string;
  stepId: string;
  detach?: boolean;
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
    .option('--detach', 'submit the job, print it and exit; follow it with `blobgate jobs watch`')
    .action(async (url: string, opts: FetchOptions, cmd: Command) => {
      const body: StepRequestBody = {
        'flow-slug': opts.flowSlug,
        'step-id': opts.stepId,
        request: { url, 'response-as': 'bytes' },
        persist: { type: 'blob', ...defined({ tier: opts.tier, path: opts.path, filename: opts.filename }) },
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
