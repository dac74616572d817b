import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from './_cli.js';

// `blobgate completion bash|zsh` prints a script generated from the commander
// program. Bash completes with it as a user's shell would: the script is
// sourced, `complete -p` names its function, and that function is called
// with COMP_WORDS/COMP_CWORD set the way bash sets them for a line.

const bashRun = runCli(['completion', 'bash']);
const zshRun = runCli(['completion', 'zsh']);
const dir = mkdtempSync(join(tmpdir(), 'bg-completion-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function scriptFile(shell: 'bash' | 'zsh'): Promise<string> {
  const res = await (shell === 'bash' ? bashRun : zshRun);
  const file = join(dir, `blobgate.${shell}`);
  writeFileSync(file, res.stdout);
  return file;
}

/** What bash offers for `line` (a trailing space starts a new, empty word), by the function `complete` registered. */
function complete(script: string, line: string): string[] {
  const driver = `
source "$1"
spec="$(complete -p blobgate)" || exit 3
fn="\${spec##*-F }"; fn="\${fn%% *}"
read -ra COMP_WORDS <<< "$2"
[[ "$2" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$2"; COMP_POINT=\${#2}
"$fn" blobgate "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const res = spawnSync('bash', ['--norc', '--noprofile', '-c', driver, 'drive', script, line], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`bash exited ${res.status}: ${res.stderr}`);
  return res.stdout.split('\n').filter(Boolean).sort();
}

t.test('both scripts are printed with exit 0 and parse (bash -n)', async (t) => {
  for (const shell of ['bash', 'zsh'] as const) {
    const res = await (shell === 'bash' ? bashRun : zshRun);
    t.equal(res.code, 0, `${shell}: exit 0`);
    t.equal(res.stderr, '');
    const check = spawnSync('bash', ['-n', await scriptFile(shell)], { encoding: 'utf8' });
    t.equal(check.status, 0, `${shell}: bash -n ${check.stderr}`);
  }
  t.match((await zshRun).stdout.toString(), /^#compdef blobgate\n/, 'zsh finds it on $fpath by its #compdef line');
  t.match((await bashRun).stdout.toString(), /\ncomplete -o default -F _blobgate blobgate\n/);
});

t.test('bash completes commands, subcommands, options, option values and arguments', async (t) => {
  const script = await scriptFile('bash');
  t.same(complete(script, 'blobgate jo'), ['jobs']);
  t.same(complete(script, 'blobgate jobs '), ['cancel', 'get', 'help', 'ls', 'watch']);
  t.same(complete(script, 'blobgate jobs ls --st'), ['--state']);
  t.same(complete(script, 'blobgate --url http://127.0.0.1:1 jobs ls --st'), ['--state'], 'a global option and its value are stepped over');
  t.same(complete(script, 'blobgate jobs ls --state '), ['cancelled', 'failed', 'lost', 'queued', 'running', 'succeeded']);
  t.same(complete(script, 'blobgate fetch --tier e'), ['ephemeral']);
  t.same(complete(script, 'blobgate put -w ws-1 --pa'), ['--path']);
  t.same(complete(script, 'blobgate config check --'), ['--connect', '--file', '--help', '--json', '--token', '--url']);
  t.same(complete(script, 'blobgate completion '), ['bash', 'zsh']);
  t.same(complete(script, 'blobgate smoke --'), ['--all', '--gateway', '--help', '--json', '--store', '--token', '--url'], 'smoke, registered lazily, completes its real options');
  t.same(complete(script, 'blobgate put ./da'), [], "a file argument is left to bash's default (file names)");
  t.same(complete(script, 'blobgate get res://x -o '), [], 'an option value without choices too');
});

/** The flags `--help` lists for a command, as its options table writes them. */
function helpFlags(help: string): string[] {
  const options = help.split(/\nOptions:\n|\nGlobal Options:\n/).slice(1).join('\n').split(/\n\S/)[0] ?? '';
  return [...options.matchAll(/^ {2}(-\w)?(?:, )?(--[\w-]+)?/gm)].flatMap((m) => [m[1], m[2]]).filter((f): f is string => f !== undefined && f !== '-V' && f !== '--version').sort();
}

t.test('every command and option --help shows is completed, nothing else (the script cannot drift)', async (t) => {
  const script = await scriptFile('bash');
  const top = (await runCli(['--help'])).stdout.toString();
  const commands = [...top.split('\nCommands:\n')[1]!.matchAll(/^ {2}([a-z]+)/gm)].map((m) => m[1]!).sort();
  t.same(complete(script, 'blobgate '), commands, 'top-level commands');
  // One path of the generator serves every command: these cover a top-level command, nested ones,
  // choices, short flags and the lazily registered smoke (each CLI start costs seconds here).
  const paths = ['fetch', 'put', 'jobs ls', 'config check', 'smoke'];
  for (const path of paths) {
    const help = await runCli([...path.split(' '), '--help'], { timeoutMs: 120_000 });
    t.equal(help.code, 0, `${path} --help`);
    const flags = helpFlags(help.stdout.toString());
    t.ok(flags.includes('--url'), `${path}: read its --help options`);
    t.same(complete(script, `blobgate ${path} -`), flags, `${path}: completes exactly the options --help lists`);
  }
});

t.test('an unknown shell is a usage error', async (t) => {
  const res = await runCli(['completion', 'fish']);
  t.equal(res.code, 2);
  t.match(res.stderr, /'fish' is invalid for argument 'shell'\. Allowed choices are bash, zsh/);
});

const zshMissing = spawnSync('zsh', ['--version']).error !== undefined;
t.test('zsh itself reads the zsh script, where zsh is installed', { skip: zshMissing && 'zsh is not installed here (.ci/run installs it); bash -n parses the zsh script above' }, async (t) => {
  const check = spawnSync('zsh', ['-n', await scriptFile('zsh')], { encoding: 'utf8' });
  t.equal(check.status, 0, check.stderr);
});
