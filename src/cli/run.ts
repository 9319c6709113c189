/**
 * The command table and global flags. Commands are imported lazily so that `qwen status` does
 * not pay for loading the server, and `--version` pays for nothing. A loaded Command carries its
 * flag table and sub-commands as data, which is all shell completions need of it.
 */
import type { Context } from "../lib/context.ts";
import { describeError, ExitCode, QwenError, UsageError } from "../lib/errors.ts";
import { VERSION } from "../lib/version.ts";
import type { Command, CommandShape } from "./command.ts";
import type { FlagTable } from "./flags.ts";

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  auth: {
    summary: "Log in to Qwen (OAuth device flow) or store an API key",
    load: async () => (await import("./auth.ts")).authCommand,
  },
  serve: {
    summary: "Run the OpenAI-compatible proxy",
    load: async () => (await import("./serve.ts")).serveCommand,
  },
  status: {
    summary: "Tell whether the login can be used (exit codes, --json)",
    load: async () => (await import("./status.ts")).statusCommand,
  },
  completions: {
    summary: "Print a completion script for bash, zsh, fish or PowerShell",
    load: async () => (await import("./completions.ts")).completionsCommand,
  },
  service: {
    summary: "Run qwen serve in the background (systemd, launchd): install, status, logs",
    load: async () => (await import("./service.ts")).serviceCommand,
  },
  upgrade: {
    summary: "Replace this binary with the latest release (--check: is there one?)",
    load: async () => (await import("./upgrade.ts")).upgradeCommand,
  },
  version: {
    summary: "Print the version (--verbose: commit, runtime, repository)",
    load: async () => (await import("./version.ts")).versionCommand,
  },
};

/** The flags of `qwen` itself; each command's own are on its Command, loaded with it. */
const ROOT_FLAGS = [
  {
    name: "help",
    short: "h",
    type: "boolean",
    help: "Show this help (also: qwen <command> --help)",
  },
  { name: "version", short: "V", type: "boolean", help: "Print the version" },
] as const satisfies FlagTable;

/** Built on demand: `--version` and the commands need none of it. */
const usage = async () =>
  `qwen ${VERSION}: use Qwen models from any OpenAI-compatible tool

Usage:
  qwen <command> [flags]

Commands:
${commandList()}

Flags:
${(await import("./flags.ts")).flagsHelp(ROOT_FLAGS)}

Exit codes: 0 ok, 1 failure, 2 usage, 3 not authenticated, 4 expired, 5 refused by the upstream,
10 newer release (upgrade --check), 130 cancelled.
Environment: QWEN_HOME (default ~/.qwen), QWEN_OAUTH_BASE_URL (default https://chat.qwen.ai), NO_COLOR.
`;

function commandList(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  return Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join("\n");
}

/**
 * `qwen` as shell completions see it: every command with its flags and sub-commands, and `help`
 * followed by a command's name. Loads every command.
 */
export async function commandTree(): Promise<CommandShape> {
  const entries = Object.entries(commands);
  const loaded = await Promise.all(entries.map(async ([name, { summary, load }]) => {
    const { flags, subcommands } = await load();
    return [name, { summary, flags, subcommands }] as const;
  }));
  const help = {
    summary: "Show the help of a command",
    flags: [],
    subcommands: Object.fromEntries(
      entries.map(([name, { summary }]) => [name, { summary, flags: [] }]),
    ),
  };
  return { flags: ROOT_FLAGS, subcommands: { ...Object.fromEntries(loaded), help } };
}

export async function runCli(argv: string[], ctx: Context): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === undefined || first === "-h" || first === "--help" || first === "help") {
      if (first === "help" && rest[0]) return await runCli([rest[0], "--help"], ctx);
      (first === undefined ? ctx.stderr : ctx.stdout)(await usage());
      return first === undefined ? ExitCode.usage : ExitCode.ok;
    }
    if (first === "-V" || first === "--version") {
      ctx.stdout(`${VERSION}\n`);
      return ExitCode.ok;
    }
    const entry = Object.hasOwn(commands, first) ? commands[first] : undefined;
    if (!entry) {
      throw new UsageError(
        first.startsWith("-")
          ? `Unknown flag "${first}": run "qwen --help" for usage`
          : `Unknown command "${first}": run "qwen --help" for the commands`,
      );
    }
    const command = await entry.load();
    return await command.run(rest, ctx);
  } catch (error) {
    return reportError(error, ctx);
  }
}

/** The one place an error becomes a message and an exit code. */
function reportError(error: unknown, ctx: Context): number {
  if (ctx.signal.aborted && !(error instanceof QwenError)) {
    ctx.stderr("Cancelled.\n");
    return ExitCode.cancelled;
  }
  if (error instanceof QwenError) {
    ctx.stderr(`error: ${error.message}\n`);
    return error.exitCode;
  }
  // Unexpected: still no stack unless asked for, but enough to file a bug.
  ctx.stderr(`error: ${describeError(error)}\n`);
  if (ctx.env.QWEN_DEBUG) ctx.stderr(`${(error as Error)?.stack ?? ""}\n`);
  return ExitCode.failure;
}
