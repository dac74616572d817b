import { createWriteStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { connectionLost } from '../client.js';
import { CliError } from '../output.js';
import { Progress } from '../progress.js';
import { clientFor, fileNameOf } from './common.js';

/**
 * `blobgate get <uri> [-o file|-]`: streams the bytes into a file (default:
 * the URI's last segment in the cwd) or stdout. Never buffers the body; a
 * failed or interrupted download removes the partial file.
 */
export function registerGet(program: Command): void {
  program
    .command('get')
    .description('download the bytes of a resource (GET /v1/resources/content)')
    .argument('<uri>', 'resource URI (res://…)')
    .option('-o, --output <file>', 'where to write: a file, a directory, or - for stdout (default: the last segment of the URI, in the current directory)')
    .action(async (uri: string, opts: { output?: string }, cmd: Command) => {
      const client = clientFor(cmd);
      const controller = new AbortController();
      const onSignal = (): void => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await download(client, uri, opts.output, controller.signal);
      } catch (err) {
        // Ctrl-C before the answer came: nothing was written yet.
        if (controller.signal.aborted && !(err instanceof CliError)) throw new CliError('interrupted', 'download interrupted.', undefined, 130);
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

async function download(client: ReturnType<typeof clientFor>, uri: string, output: string | undefined, signal: AbortSignal): Promise<void> {
  const res = await client.stream('GET', '/v1/resources/content', { query: { uri }, signal });
  const length = Number(res.headers['content-length']);
  const total = Number.isSafeInteger(length) ? length : undefined;

  let path: { file: string; removable: boolean } | undefined;
  let dest: Writable;
  if (output === '-') {
    dest = process.stdout;
  } else {
    path = await target(output, uri).catch((err: unknown) => {
      res.body.destroy();
      throw err;
    });
    dest = createWriteStream(path.file);
  }
  // Which side failed first: pipeline() destroys every stream with the first error, so after a
  // dropped connection the file's stream emits the connection's error too, and that is no write error.
  let failedFirst: 'read' | 'write' | undefined;
  let writeError: Error | undefined;
  res.body.once('error', () => (failedFirst ??= 'read'));
  dest.once('error', (err: Error) => {
    failedFirst ??= 'write';
    writeError ??= err;
  });

  const progress = Progress.create(path ? basename(path.file) : 'stdout', total);
  try {
    if (progress) await pipeline(res.body, progress.meter(), dest, { signal });
    else await pipeline(res.body, dest, { signal });
  } catch (err) {
    progress?.abort();
    if (path?.removable) await unlink(path.file).catch(() => undefined);
    if (signal.aborted) throw new CliError('interrupted', `download interrupted${path ? `; removed the partial ${path.file}` : ''}.`, undefined, 130);
    if (writeError && failedFirst === 'write') {
      if ((writeError as NodeJS.ErrnoException).code === 'EPIPE') return; // stdout reader went away (| head): not an error
      throw new CliError('io_error', `cannot write ${path?.file ?? 'stdout'}: ${writeError.message}`);
    }
    throw connectionLost(client.endpoint.url, err);
  }
  progress?.finish();
}

/** Resolves -o: a directory gets the URI's file name; only regular files are removed on failure. */
async function target(output: string | undefined, uri: string): Promise<{ file: string; removable: boolean }> {
  const file = output ?? fileNameOf(uri);
  const st = await stat(file).catch(() => undefined);
  if (st?.isDirectory()) return { file: join(file, fileNameOf(uri)), removable: true };
  return { file, removable: st === undefined || st.isFile() };
}
