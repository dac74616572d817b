import { Option, type Command } from 'commander';
import { formatTable, printLine } from '../output.js';
import { formatBytes } from '../progress.js';
import { clientFor, positiveInt, seg } from './common.js';

interface LsOptions {
  pathPrefix?: string;
  storageRoot?: string;
  storageBackend?: string;
  tier?: string;
  pageSize?: number;
  quiet?: boolean;
  json?: boolean;
}

interface ListItem {
  uri: string;
  'content-type': string;
  'blob-ref': { size: number; 'created-at': string };
}

/** `blobgate ls <workspace>`: every page of the listing (follows `cursor`), as a table or bare URIs. */
export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('list the resources of a workspace (GET /v1/workspaces/:ws/resources), following every page')
    .argument('<workspace>', 'workspace id')
    .option('--path-prefix <prefix>', 'only keys under this prefix (relative to the workspace, or to --storage-root)')
    .option('--storage-root <root>', 'only blobs written through a slot with this root')
    .addOption(new Option('--storage-backend <backend>', 'only blobs in stores of this backend').choices(['local', 's3', 'gcs']))
    .addOption(new Option('--tier <tier>', 'only blobs of this tier').choices(['retained', 'ephemeral']))
    .option('--page-size <n>', 'items per API request (1 to 1000)', positiveInt, 1000)
    .option('-q, --quiet', 'print only the URIs, one per line')
    .option('--json', 'print each item as one JSON line (exact sizes, every field)')
    .action(async (workspace: string, opts: LsOptions, cmd: Command) => {
      const client = clientFor(cmd);
      // On a terminal: human sizes, and URIs shortened from the left to fit the width; piped: exact bytes, whole URIs.
      const tty = process.stdout.isTTY === true;
      const rows: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await client.json<{ items: ListItem[]; cursor?: string }>('GET', `/v1/workspaces/${seg(workspace)}/resources`, {
          query: {
            'path-prefix': opts.pathPrefix,
            'storage-root': opts.storageRoot,
            'storage-backend': opts.storageBackend,
            tier: opts.tier,
            limit: Math.min(opts.pageSize ?? 1000, 1000),
            cursor,
          },
        });
        for (const item of page?.items ?? []) {
          // -q streams page by page; the table needs every row for its column widths.
          if (opts.json) printLine(JSON.stringify(item));
          else if (opts.quiet) printLine(item.uri);
          else rows.push([item.uri, tty ? formatBytes(item['blob-ref'].size) : String(item['blob-ref'].size), item['content-type'], item['blob-ref']['created-at']]);
        }
        cursor = page?.cursor;
      } while (cursor);
      if (!opts.quiet && !opts.json) printLine(formatTable(['URI', 'SIZE', 'CONTENT-TYPE', 'CREATED-AT'], tty ? fitted(rows, process.stdout.columns || 120) : rows));
    });
}

/** Rows whose URI column is cut from the left (…tail) so a table line fits `columns`. */
function fitted(rows: string[][], columns: number): string[][] {
  const rest = Math.max(0, ...rows.map((r) => r.slice(1).join('  ').length + 2));
  const room = Math.max(24, columns - rest);
  return rows.map(([uri = '', ...others]) => [uri.length > room ? `…${uri.slice(uri.length - room + 1)}` : uri, ...others]);
}
