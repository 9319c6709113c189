import type { Context } from "../lib/context.ts";
import { ExitCode } from "../lib/errors.ts";
import { type FlagTable, type FlagValues, parseFlags } from "./flags.ts";

/**
 * What a command accepts, as plain data: its flags, and its sub-commands (`qwen service install`)
 * with theirs. Shell completions are generated from it, so it must be what `run` accepts.
 */
interface CommandShape {
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
