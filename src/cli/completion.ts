import type { Command, Option } from 'commander';

/**
 * Shell completion scripts generated from the commander program itself
 * (`blobgate completion bash|zsh`): the commands, their subcommands and
 * options are read from the same definitions the parser uses, so a new flag
 * completes the moment it exists and a removed one stops completing.
 *
 * Both scripts carry the same tables, as shell `case` functions keyed by the
 * command path (`""`, `jobs`, `jobs ls`): the subcommands of a path, its
 * options (the program's global options included: commander takes them after
 * a subcommand too), the options that take a value, and an option's choices.
 * A small driver per shell walks the words typed so far to find the path.
 */

export type Shell = 'bash' | 'zsh';
export const SHELLS: readonly Shell[] = ['bash', 'zsh'];

interface CommandNode {
  path: string;
  description: string;
  subcommands: Array<{ name: string; description: string }>;
  options: Option[];
  /** The fixed values of its first argument (`completion <shell>`), when it has them. */
  argumentChoices: string[];
}

/** Every command of the program, depth first, each with its own options and the global ones. */
function walk(program: Command): CommandNode[] {
  const globals = visible(program.options);
  // -V/--version is the program's alone; --url and --token are taken after a subcommand too.
  const inherited = globals.filter((o) => o.long !== '--version');
  const nodes: CommandNode[] = [];
  const visit = (cmd: Command, path: string): void => {
    const subs = cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
    const options = cmd === program ? globals : [...visible(cmd.options), ...inherited];
    nodes.push({
      path,
      description: cmd.description(),
      subcommands: [...subs.map((c) => ({ name: c.name(), description: c.description() })), ...(subs.length > 0 ? [{ name: 'help', description: 'display help for a command' }] : [])],
      options,
      argumentChoices: cmd.registeredArguments[0]?.argChoices ?? [],
    });
    for (const sub of subs) visit(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
  };
  visit(program, '');
  return nodes;
}

function visible(options: readonly Option[]): Option[] {
  return options.filter((o) => !o.hidden);
}

/** -h/--help is commander's own option on every command (not in `options`); -V/--version is a real one on the program. */
function flagsOf(node: CommandNode): string[] {
  return [...node.options.flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined)), '-h', '--help'];
}

function valuedFlagsOf(node: CommandNode): string[] {
  return node.options.filter((o) => o.required || o.optional).flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined));
}

/** Words a shell can take inside single quotes; names and flags never hold a quote, but a description may. */
function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function caseFunction(name: string, arms: Array<[key: string, words: string[]]>): string {
  const body = arms
    .filter(([, words]) => words.length > 0)
    .map(([key, words]) => `    ${quote(key)}) echo ${quote(words.join(' '))} ;;`)
    .join('\n');
  return `${name}() {\n  case "$1" in\n${body}\n  esac\n}`;
}

/** The tables both scripts share, in syntax bash and zsh both read. */
function tables(nodes: CommandNode[]): string {
  const choiceArms: Array<[string, string[]]> = nodes.flatMap((n) =>
    n.options
      .filter((o) => o.argChoices && o.argChoices.length > 0)
      .flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined).map((f): [string, string[]] => [`${n.path}|${f}`, o.argChoices!])),
  );
  return [
    `# The subcommands of a command path ("" is the program).\n${caseFunction('_blobgate_subcommands', nodes.map((n) => [n.path, n.subcommands.map((s) => s.name)]))}`,
    `# Its options.\n${caseFunction('_blobgate_options', nodes.map((n) => [n.path, flagsOf(n)]))}`,
    `# Those of its options that take a value (the next word is the value).\n${caseFunction('_blobgate_valued', nodes.map((n) => [n.path, valuedFlagsOf(n)]))}`,
    `# The values the first argument of a command accepts, when it has a fixed list.\n${caseFunction('_blobgate_arguments', nodes.map((n) => [n.path, n.argumentChoices]))}`,
    `# The values an option accepts, for "<path>|<option>", when it has a fixed list.\n${caseFunction('_blobgate_choices', choiceArms)}`,
    `# Whether word $2 is among the words of $1.
_blobgate_has() {
  local w
  for w in $1; do [[ "$w" == "$2" ]] && return 0; done
  return 1
}`,
    `# The command path the words before the current one name; sets _bg_path, and
# _bg_value to the option whose value is being typed (empty when none).
_blobgate_locate() {
  local w skip=''
  _bg_path=''
  _bg_value=''
  for w in "$@"; do
    if [[ -n "$skip" ]]; then skip=''; continue; fi
    case "$w" in
      --*=*) ;;
      -*) _blobgate_has "$(_blobgate_valued "$_bg_path")" "$w" && skip="$w" ;;
      *) _blobgate_has "$(_blobgate_subcommands "$_bg_path")" "$w" && _bg_path="\${_bg_path:+$_bg_path }$w" ;;
    esac
  done
  _bg_value="$skip"
}`,
  ].join('\n\n');
}

function header(shell: Shell): string {
  const install =
    shell === 'bash'
      ? '# Install: blobgate completion bash > ~/.local/share/bash-completion/completions/blobgate\n# (or: source <(blobgate completion bash) in ~/.bashrc)'
      : '# Install: blobgate completion zsh > "${fpath[1]}/_blobgate" (a directory on $fpath), then restart zsh\n# (or: source <(blobgate completion zsh) in ~/.zshrc, after compinit)';
  return `# blobgate ${shell} completion, generated from the CLI's own definitions by
# \`blobgate completion ${shell}\`: regenerate it after upgrading blobgate.
${install}`;
}

function bashScript(nodes: CommandNode[]): string {
  return `${header('bash')}

${tables(nodes)}

_blobgate() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  _blobgate_locate "\${COMP_WORDS[@]:1:COMP_CWORD-1}"
  COMPREPLY=()
  if [[ -n "$_bg_value" ]]; then
    local choices
    choices="$(_blobgate_choices "$_bg_path|$_bg_value")"
    # An option's value: its choices, else whatever bash completes by default (file names).
    [[ -n "$choices" ]] && COMPREPLY=($(compgen -W "$choices" -- "$cur"))
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_blobgate_options "$_bg_path")" -- "$cur"))
  else
    # A leaf command's arguments (a file, a res:// URI) fall back to bash's default completion.
    COMPREPLY=($(compgen -W "$(_blobgate_subcommands "$_bg_path") $(_blobgate_arguments "$_bg_path")" -- "$cur"))
  fi
  return 0
}

complete -o default -F _blobgate blobgate
`;
}

function zshScript(nodes: CommandNode[]): string {
  const described = nodes.filter((n) => n.subcommands.length > 0);
  const descriptions = described
    .map((n) => `    ${quote(n.path)}) subs=(${n.subcommands.map((s) => quote(`${s.name}:${s.description.replace(/:/g, '\\:')}`)).join(' ')}) ;;`)
    .join('\n');
  return `#compdef blobgate
${header('zsh')}

${tables(nodes)}

_blobgate() {
  local cur="\${words[CURRENT]}"
  local -a subs choices
  # zsh's words are 1-based: words[1] is blobgate, the current word is words[CURRENT].
  _blobgate_locate "\${(@)words[2,CURRENT-1]}"
  if [[ -n "$_bg_value" ]]; then
    choices=(\${=$(_blobgate_choices "$_bg_path|$_bg_value")})
    if (( \${#choices} > 0 )); then compadd -- "\${choices[@]}"; else _files; fi
    return
  fi
  if [[ "$cur" == -* ]]; then
    compadd -- \${=$(_blobgate_options "$_bg_path")}
    return
  fi
  case "$_bg_path" in
${descriptions}
  esac
  choices=(\${=$(_blobgate_arguments "$_bg_path")})
  if (( \${#subs} > 0 )); then _describe -t commands 'blobgate command' subs
  elif (( \${#choices} > 0 )); then compadd -- "\${choices[@]}"
  else _files; fi
}

if [[ "$funcstack[1]" == _blobgate ]]; then
  _blobgate "$@"
else
  compdef _blobgate blobgate
fi
`;
}

export function completionScript(program: Command, shell: Shell): string {
  const nodes = walk(program);
  return shell === 'bash' ? bashScript(nodes) : zshScript(nodes);
}
