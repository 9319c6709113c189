/**
 * The command table and global flags. Commands are imported lazily so that `qwen status` does
 * not pay for loading the server, and `--version` pays for nothing.
 */
import type { Context } from "../lib/context.ts";
import { describeError, ExitCode, QwenError, UsageError } from "../lib/errors.ts";
import { VERSION } from "../lib/version.ts";
import type { Command } from "./command.ts";

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
  version: {
    summary: "Print the version (--verbose: commit, runtime, repository)",
    load: async () => (await import("./version.ts")).versionCommand,
  },
};

const USAGE = `qwen ${VERSION}: use Qwen models from any OpenAI-compatible tool

Usage:
  qwen <command> [flags]

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`).join("\n")}

Flags:
  -h, --help     Show this help (also: qwen <command> --help)
  -V, --version  Print the version

Exit codes: 0 ok, 1 failure, 2 usage, 3 not authenticated, 4 expired, 5 refused by the upstream, 130 cancelled.
Environment: QWEN_HOME (default ~/.qwen), QWEN_OAUTH_BASE_URL (default https://chat.qwen.ai), NO_COLOR.
`;

export async function runCli(argv: string[], ctx: Context): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === undefined || first === "-h" || first === "--help" || first === "help") {
      if (first === "help" && rest[0]) return await runCli([rest[0], "--help"], ctx);
      (first === undefined ? ctx.stderr : ctx.stdout)(USAGE);
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
