/**
 * Flag parsing on `node:util` parseArgs in strict mode. `@std/cli` would be the Deno-native
 * choice but is published only on JSR, which our build machines cannot reach.
 */
import process from "node:process";
import type { ParseArgsConfig } from "node:util";
import { UsageError } from "../lib/errors.ts";

export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

export function parseFlags<const T extends FlagSpec>(
  command: string,
  argv: string[],
  options: T,
  { positionals = false }: { positionals?: boolean } = {},
) {
  // Loaded on first use: a static import of node:util is evaluated at every start of the
  // compiled binary, `--version` included.
  const { parseArgs } = process.getBuiltinModule("node:util") as typeof import("node:util");
  try {
    return parseArgs({
      args: argv,
      options,
      strict: true,
      allowPositionals: positionals,
      allowNegative: true,
    });
  } catch (error) {
    throw new UsageError(`${translate(error, command)}: run "${command} --help" for usage`);
  }
}

function translate(error: unknown, command: string): string {
  const e = error as { code?: string; message?: string };
  const message = e.message ?? String(error);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `Unknown flag "${quoted ?? message}" for "${command}"`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `Unexpected argument "${quoted ?? message}" for "${command}"`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const flag = /--[\w-]+/.exec(message)?.[0] ?? quoted ?? "a flag";
      return `Invalid value for flag "${flag}" of "${command}"`;
    }
    default:
      return `Cannot parse the arguments of "${command}": ${message}`;
  }
}
