/**
 * `npm run smoke`: the storage smoke test (`blobgate smoke`) against the test
 * servers — fauxqs behind the SigV4-verifying proxy, the GCS test server with
 * V4 signature verification, and a local store in a temp dir — one store of
 * each kind, in-process. Prints the table (`--json`: the report), exits 1 on
 * any failure, and stops the servers either way.
 */
import { smokeCommand } from '../src/smoke/command.js';
import { startSmokeServers } from '../support/smoke-servers.js';

async function main(): Promise<number> {
  const servers = await startSmokeServers();
  try {
    return await smokeCommand({ json: process.argv.includes('--json') }, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), config: servers.config(), handleSigint: true });
  } finally {
    await servers.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`smoke: could not run: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
