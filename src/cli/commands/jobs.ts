import { Option, type Command } from 'commander';
import { cli, typedClient, type Job, watchJob } from '../jobs-client.js';
import { CliError, printJson } from '../output.js';
import { clientFor, positiveInt } from './common.js';

/** `blobgate jobs ls|get|watch|cancel`: the transfer jobs of a workspace (README "Jobs and idempotency"). */
export function registerJobs(program: Command): void {
  const jobs = program.command('jobs').description('list, read, watch and cancel transfer jobs');
  jobs
    .command('ls')
    .description('list the jobs of a workspace (GET /v1/workspaces/:ws/jobs)')
    .requiredOption('-w, --workspace <ws>', 'workspace')
    .addOption(new Option('--state <state>', 'only jobs in this state').choices(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'lost']))
    .option('--limit <n>', 'jobs per page', positiveInt)
    .option('--cursor <cursor>', 'the page after this cursor')
    .action(async (opts: { workspace: string; state?: string; limit?: number; cursor?: string }, cmd: Command) => {
      const api = clientFor(cmd);
      const query = { ...(opts.state ? { state: opts.state as Job['state'] } : {}), ...(opts.limit ? { limit: opts.limit } : {}), ...(opts.cursor ? { cursor: opts.cursor } : {}) };
      printJson(await cli(api, () => typedClient(api).listJobs(opts.workspace, query)));
    });
  jobs
    .command('get')
    .description('print one job')
    .argument('<id>', 'job id')
    .requiredOption('-w, --workspace <ws>', 'workspace')
    .action(async (id: string, opts: { workspace: string }, cmd: Command) => {
      const api = clientFor(cmd);
      printJson(await cli(api, () => typedClient(api).getJob(opts.workspace, id)));
    });
  jobs
    .command('watch')
    .description('follow a job to its end, with a progress bar on a terminal, then print it')
    .argument('<id>', 'job id')
    .requiredOption('-w, --workspace <ws>', 'workspace')
    .action(async (id: string, opts: { workspace: string }, cmd: Command) => {
      const final: Job | undefined = await watchJob(clientFor(cmd), opts.workspace, id, new AbortController().signal);
      if (!final) throw new CliError('unreachable', `lost the event stream of job ${id}; try again.`);
      printJson(final);
      if (final.state !== 'succeeded') process.exitCode = 1;
    });
  jobs
    .command('cancel')
    .description('cancel a job wherever it runs (idempotent)')
    .argument('<id>', 'job id')
    .requiredOption('-w, --workspace <ws>', 'workspace')
    .action(async (id: string, opts: { workspace: string }, cmd: Command) => {
      const api = clientFor(cmd);
      printJson(await cli(api, () => typedClient(api).cancelJob(opts.workspace, id)));
    });
}
