import t from 'tap';
import { runCli } from './_cli.js';

/** Every command answers --help with exit 0, its usage and each of its options (and the global ones). */
const COMMANDS: Record<string, string[]> = {
  serve: ['--host <host>', '--port <port>', '--config <file>', '--data-dir <dir>'],
  fetch: ['<url>', '-w, --workspace <ws>', '--tier <tier>', '--path <path>', '--filename <name>', '--flow-slug <slug>', '--step-id <id>', '--method <method>', '--header <name:value>', '--query <name=value>', '--json <json>', '--timeout <seconds>', '--retry <attempts>', '--slot <name>', '--root <root>', '--detach'],
  put: ['<file>', '-w, --workspace <ws>', '--path <path>', '--filename <name>', '--slot <name>', '--root <root>', '--content-type <type>'],
  ls: ['<workspace>', '--path-prefix <prefix>', '--storage-root <root>', '--storage-backend <backend>', '--tier <tier>', '--page-size <n>', '-q, --quiet', '--json'],
  head: ['<uri>'],
  get: ['<uri>', '-o, --output <file>'],
  url: ['<uri>', '--ttl <seconds>', '--download', '--filename <name>', '--json'],
  rm: ['<uri>'],
  // src/smoke/command.ts, loaded only when asked for
  smoke: ['--store <name>', '--all', '--json', '--gateway <url>'],
};

// Every run starts at once; the subtests only wait for their own.
const runs = new Map(Object.keys(COMMANDS).map((name) => [name, runCli([name, '--help'])]));
const top = runCli(['--help']);

t.test('blobgate --help lists every command', async (t) => {
  const res = await top;
  t.equal(res.code, 0);
  t.equal(res.stderr, '');
  const out = res.stdout.toString();
  t.match(out, /^Usage: blobgate \[options\] \[command\]/);
  for (const name of Object.keys(COMMANDS)) t.match(out, new RegExp(`\\n  ${name} `), name);
  t.match(out, /--url <url>/);
  t.match(out, /--token <token>/);
});

for (const [name, options] of Object.entries(COMMANDS)) {
  t.test(`blobgate ${name} --help`, async (t) => {
    const res = await runs.get(name)!;
    t.equal(res.code, 0);
    t.equal(res.stderr, '');
    const out = res.stdout.toString();
    t.match(out, new RegExp(`^Usage: blobgate ${name} `));
    for (const opt of [...options, '--url <url>', '--token <token>', '-h, --help']) t.ok(out.includes(opt), `${name} --help lists ${opt}`);
  });
}

t.test('blobgate help <command> and --version', async (t) => {
  const [help, version] = await Promise.all([runCli(['help', 'get']), runCli(['--version'])]);
  t.equal(help.code, 0);
  t.match(help.stdout.toString(), /^Usage: blobgate get /);
  t.equal(version.code, 0);
  t.match(version.stdout.toString(), /^\d+\.\d+\.\d+\n$/);
});

t.test('smoke is wired into the CLI: a usage error there exits 2 before any store is touched', async (t) => {
  const res = await runCli(['smoke', '--store', 'retained', '--all']);
  t.equal(res.code, 2);
  t.match(res.stderr, /^error: invalid_request: /);
  t.equal(res.stdout.length, 0);
});
