/** `qwen version`: its flags and help; the work is done in commands/version.ts. */
import { flagCommand } from "./command.ts";
import { flagsHelp, type FlagTable, HELP_FLAG } from "./flags.ts";

const VERSION_FLAGS = [
  {
    name: "verbose",
    short: "v",
    type: "boolean",
    help: "Also print the commit it was built from, the runtime and the repository",
  },
  HELP_FLAG,
] as const satisfies FlagTable;

const USAGE = `Usage: qwen version [--verbose]

Print the version (as "qwen --version" does). With --verbose, one "name  value" line each for:
  version     the version, e.g. 0.1.0
  commit      the git commit it was built from, "none" outside a git checkout; a binary made
              by "npm run build" has it built in, run from source it is read from git
  runtime     bun or deno, and its version
  repository  where the source and the releases are

Flags:
${flagsHelp(VERSION_FLAGS)}
`;

export const versionCommand = flagCommand(
  "qwen version",
  VERSION_FLAGS,
  USAGE,
  async (values, ctx) => {
    const { runVersion } = await import("../commands/version.ts");
    return await runVersion({ verbose: values.verbose ?? false }, ctx);
  },
);
