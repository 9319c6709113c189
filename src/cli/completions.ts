/** `qwen completions bash|zsh|fish|powershell`: a completion script made from every flag table. */
import { ExitCode, UsageError } from "../lib/errors.ts";
import { type Command, flagCommand, groupCommand } from "./command.ts";
import { COMMAND_NAME, completionScript, type Shell, SHELLS } from "./completions/script.ts";
import { flagsHelp, type FlagTable, HELP_FLAG } from "./flags.ts";

const COMPLETIONS_FLAGS = [
  {
    name: "name",
    value: "NAME",
    default: "qwen",
    help: "The command to complete, when installed under another name (qwen-proxy)",
  },
  HELP_FLAG,
] as const satisfies FlagTable;

const SUMMARIES: Record<Shell, string> = {
  bash: "The script for bash (3.2 or later)",
  zsh: "The script for zsh",
  fish: "The script for fish",
  powershell: "The script for PowerShell",
};

const USAGE = `Usage: qwen completions bash|zsh|fish|powershell [--name NAME]

Prints a completion script for the shell: commands, sub-commands, flags and their allowed values,
and files where a flag takes a path. It is generated from the same flag tables as the help, so it
fits this version of qwen; print it again after an upgrade.

Where it goes (NAME instead of qwen with --name):
  bash        qwen completions bash > ~/.local/share/bash-completion/completions/qwen
  zsh         qwen completions zsh > ~/.zfunc/_qwen
              with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc
  fish        qwen completions fish > ~/.config/fish/completions/qwen.fish
  PowerShell  qwen completions powershell >> $PROFILE

Flags:
${flagsHelp(COMPLETIONS_FLAGS)}
`;

export const completionsCommand: Command = groupCommand(
  "qwen completions",
  USAGE,
  Object.fromEntries(
    (Object.keys(SHELLS) as Shell[]).map((shell) => [shell, {
      summary: SUMMARIES[shell],
      command: shellCommand(shell),
    }]),
  ),
);

function shellCommand(shell: Shell): Command {
  return flagCommand(`qwen completions ${shell}`, COMPLETIONS_FLAGS, USAGE, async (values, ctx) => {
    const name = values.name ?? "qwen";
    if (!COMMAND_NAME.test(name)) {
      throw new UsageError(
        `Invalid value "${name}" for "--name": expected a command name (letters, digits and ` +
          "_.+-, e.g. qwen-proxy)",
      );
    }
    // The whole table, every command loaded: what `qwen --version` must not pay for.
    const { commandTree } = await import("./run.ts");
    ctx.stdout(completionScript(shell, await commandTree(), name));
    return ExitCode.ok;
  });
}
