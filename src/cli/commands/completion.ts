import { Argument, type Command } from 'commander';
import { completionScript, SHELLS, type Shell } from '../completion.js';

/**
 * `blobgate completion bash|zsh`: prints the completion script for that
 * shell, generated from this very program (src/cli/completion.ts), so it
 * completes exactly the commands and options this version has.
 */
export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash or zsh) for the commands and options of this version')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .addHelpText('after', '\nInstall:\n  bash: blobgate completion bash > ~/.local/share/bash-completion/completions/blobgate\n  zsh:  blobgate completion zsh > "${fpath[1]}/_blobgate"   (then restart the shell)')
    .action((shell: Shell) => {
      process.stdout.write(completionScript(program, shell));
    });
}
