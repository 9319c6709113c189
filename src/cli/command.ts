import type { Context } from "../lib/context.ts";
import { ExitCode, UsageError } from "../lib/errors.ts";
import { type FlagTable, type FlagValues, HELP_FLAG, parseFlags } from "./flags.ts";

/**
 * What a command accepts, as plain data: its flags, and its sub-commands (`qwen service install`)
 * with theirs. Shell completions are generated from it, so it must be what `run` accepts.
 */
export interface CommandShape {
  readonly flags: FlagTable;
  readonly subcommands?: Readonly<Record<string, Subcommand>>;
}

interface Subcommand extends CommandShape {
  /** One line, as the parent's help lists it. */
  readonly summary: string;
}

export interface Command extends CommandShape {
  run(argv: string[], ctx: Context): Promise<number>;
}

/** A command that takes only flags: "--help" prints `usage`, anything else goes to `run`. */
export function flagCommand<const T extends FlagTable>(
  name: string,
  table: T,
  usage: string,
  run: (values: FlagValues<T>, ctx: Context) => Promise<number>,
): Command {
  return {
    flags: table,
    async run(argv, ctx) {
      const values = parseFlags(name, argv, table);
      if ((values as { help?: boolean }).help) {
        ctx.stdout(usage);
        return ExitCode.ok;
      }
      return await run(values, ctx);
    },
  };
}

/**
 * A command whose first argument names a sub-command (`qwen completions bash`), each a Command
 * of its own, declared once: the dispatch and the `subcommands` data come from the same record.
 * Alone or with --help it prints `usage` (alone: on stderr, exit 2, as `qwen` alone does).
 */
export function groupCommand(
  name: string,
  usage: string,
  subcommands: Readonly<Record<string, { summary: string; command: Command }>>,
): Command {
  return {
    flags: [HELP_FLAG],
    subcommands: Object.fromEntries(
      Object.entries(subcommands).map(([sub, { summary, command }]) => [
        sub,
        { summary, flags: command.flags, subcommands: command.subcommands },
      ]),
    ),
    async run(argv, ctx) {
      const [first, ...rest] = argv;
      if (first === undefined) {
        ctx.stderr(usage);
        return ExitCode.usage;
      }
      if (first.startsWith("-")) {
        // Only --help may come before the sub-command; parseFlags names anything else.
        parseFlags(name, argv.slice(0, 1), [HELP_FLAG]);
        ctx.stdout(usage);
        return ExitCode.ok;
      }
      const entry = Object.hasOwn(subcommands, first) ? subcommands[first] : undefined;
      if (entry === undefined) {
        throw new UsageError(
          `Unknown command "${first}" for "${name}": run "${name} --help" for the commands`,
        );
      }
      return await entry.command.run(rest, ctx);
    },
  };
}
