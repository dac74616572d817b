import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { type Command, Option } from 'commander';
import mime from 'mime-types';
import type { Tier } from '../../storage/driver.js';
import { CliError, printJson } from '../output.js';
import { formatBytes, Progress } from '../progress.js';
import { clientFor, seg } from './common.js';

interface PutOptions {
  workspace: string;
  tier?: Tier;
  path?: string;
  filename?: string;
  slot?: string;
  root?: string;
  contentType?: string;
}

/**
 * `blobgate put <file> --workspace <ws>`: uploads a local file as the raw
 * body of `PUT /v1/workspaces/:ws/uploads/:filename`, streamed from disk with
 * its Content-Length, and prints the resource ref the gateway answers.
 */
export function registerPut(program: Command): void {
  program
    .command('put')
    .description('upload a local file (PUT /v1/workspaces/:ws/uploads/:filename) and print its resource ref')
    .argument('<file>', 'the local file to upload')
    .requiredOption('-w, --workspace <ws>', 'workspace to upload into')
    .addOption(new Option('--tier <tier>', 'tier to store it in: retained (the default, kept) or ephemeral (a larger cap; it expires)').choices(['retained', 'ephemeral']))
    .option('--path <path>', 'folder path of the blob under the workspace (or under the slot root)')
    .option('--filename <name>', 'name of the blob (default: the local file name)')
    .option('--slot <name>', 'write through this storage slot (with --root)')
    .option('--root <root>', 'storage root of the slot')
    .option('--content-type <type>', 'content type (default: looked up from the file name, else application/octet-stream)')
    .action(async (file: string, opts: PutOptions, cmd: Command) => {
      if (opts.root !== undefined && opts.slot === undefined) {
        throw new CliError('invalid_request', '--root names the storage root of a slot: give --slot <name> with it.', undefined, 2);
      }
      const client = clientFor(cmd);
      const st = await stat(file).catch((err: NodeJS.ErrnoException) => {
        throw new CliError('io_error', `cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
      });
      if (!st.isFile()) throw new CliError('io_error', `${file} is not a regular file.`);
      const filename = opts.filename ?? basename(file);
      const contentType = opts.contentType ?? (mime.lookup(filename) || 'application/octet-stream');

      const progress = Progress.create(filename, st.size);
      let readError: Error | undefined;
      const source = createReadStream(file);
      const body: Readable = progress
        ? pipeline(source, progress.meter(), (err) => {
            if (err) readError ??= err;
          })
        : source;
      source.once('error', (err) => (readError ??= err));

      let ref: unknown;
      try {
        ref = await client.json('PUT', `/v1/workspaces/${seg(opts.workspace)}/uploads/${seg(filename)}`, {
          query: { tier: opts.tier, path: opts.path, slot: opts.slot, root: opts.root },
          body,
          headers: { 'content-type': contentType, 'content-length': String(st.size) },
          noHeadersTimeout: true,
        });
      } catch (err) {
        progress?.abort();
        if (readError && (readError as NodeJS.ErrnoException).syscall) throw new CliError('io_error', `cannot read ${file}: ${readError.message}`);
        throw capInPutWords(err, file, st.size);
      }
      progress?.finish();
      printJson(ref);
    });
}

/**
 * The gateway's cap refusal names the upload's `tier` field; a `put` user
 * has --tier. Its details say which tier's cap it was and, when the
 * ephemeral tier takes larger files, how large (src/persist/write-cap.ts).
 */
function capInPutWords(err: unknown, file: string, size: number): unknown {
  if (!(err instanceof CliError) || err.code !== 'cap_exceeded' || !err.details) return err;
  const { tier, 'max-bytes': max, 'ephemeral-max-bytes': ephemeralMax } = err.details;
  if ((tier !== 'retained' && tier !== 'ephemeral') || typeof max !== 'number') return err;
  const over = `${file} (${formatBytes(size)}, ${size} bytes) is larger than the ${tier} tier's cap of ${formatBytes(max)} (${max} bytes)`;
  const remedy =
    typeof ephemeralMax === 'number'
      ? `use --tier ephemeral (up to ${formatBytes(ephemeralMax)}; the blob expires there), or upload a smaller file.`
      : 'upload a smaller file.';
  return new CliError('cap_exceeded', `${over}; ${remedy}`, err.details);
}
