import type { Command } from 'commander';
import { printJson, printLine } from '../output.js';
import { clientFor, positiveInt } from './common.js';

interface UrlOptions {
  ttl?: number;
  download?: boolean;
  filename?: string;
  json?: boolean;
}

/** `blobgate url <uri>`: a signed URL anyone can GET until it expires. */
export function registerUrl(program: Command): void {
  program
    .command('url')
    .description('mint a signed URL for a resource (POST /v1/resources/url)')
    .argument('<uri>', 'resource URI (res://…)')
    .option('--ttl <seconds>', 'lifetime of the URL in seconds (60 to 604800; gateway default 900)', positiveInt)
    .option('--download', 'serve it as an attachment (Content-Disposition: attachment)')
    .option('--filename <name>', 'file name for the attachment')
    .option('--json', 'print {"url", "expires-at"} as JSON instead of the bare URL')
    .action(async (uri: string, opts: UrlOptions, cmd: Command) => {
      const body = {
        uri,
        ...(opts.ttl !== undefined ? { 'ttl-seconds': opts.ttl } : {}),
        ...(opts.download ? { download: true } : {}),
        ...(opts.filename !== undefined ? { filename: opts.filename } : {}),
      };
      const res = await clientFor(cmd).json<{ url: string; 'expires-at': string }>('POST', '/v1/resources/url', { json: body });
      if (opts.json) printJson(res);
      else printLine(res?.url ?? '');
    });
}
