import type { Context } from "../lib/context.ts";
import { ExitCode } from "../lib/errors.ts";
import { type FlagTable, type FlagValues, parseFlags } from "./flags.ts";

export interface Command {
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
