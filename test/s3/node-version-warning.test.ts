// Start-up output stays clean: on Node 20 the AWS SDK's end-of-support
// warning (releases after January 2027 need Node >= 22) is switched off by
// the maintainers' variable, unless the operator set it themselves.
import { spawnSync } from 'node:child_process';
import t from 'tap';

const root = new URL('../..', import.meta.url).pathname;
const script = "const { buildS3Client } = await import('./src/storage/s3/client.ts'); buildS3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }).destroy();";

function build(env: Record<string, string> = {}): string {
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the client did not build: ${run.stderr}`);
  return run.stderr;
}

t.test('building an S3 client prints nothing', async (t) => {
  t.equal(build(), '');
});

t.test("an operator's own setting is kept", { skip: Number(process.versions.node.split('.')[0]) >= 22 ? 'the SDK warns on Node < 22 only' : false }, async (t) => {
  t.match(build({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' }), /NodeVersionSupportWarning/);
});
