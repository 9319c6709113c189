/**
 * Flag tables: each command describes its flags once, and the parseArgs options, the "Flags:"
 * block of its help, its environment variables and its shell completions are generated from that.
 * Parsing is `node:util` parseArgs in strict mode: `@std/cli` would be the Deno-native choice but
 * is published only on JSR, which our build machines cannot reach.
 */
import process from "node:process";
import type { ParseArgsOptionDescriptor } from "node:util";
import { UsageError } from "../lib/errors.ts";

export interface Flag {
  /** The long name, without its dashes. */
  readonly name: string;
  readonly short?: string;
  /** A flag takes a value unless it is a boolean. */
  readonly type?: "boolean";
  /** Repeatable: every value is kept, in order. */
  readonly multiple?: true;
  /** What the help shows for the value (`--port PORT`); else the choices, joined by "|". */
  readonly value?: string;
  /** Not checked by the parser: the command's own check can say where a bad value came from. */
  readonly choices?: readonly string[];
  /** The variable read when the flag is not given. */
  readonly env?: string;
  /** The default, as the help shows it. */
  readonly default?: string;
  /** A "\n" starts a new line in the help. */
  readonly help: string;
  /** A boolean listed as "--qr, --no-qr", or with "only" as "--no-browser" alone (on by default). */
  readonly negatable?: true | "only";
  /** The value names a file or a folder: shell completions offer those. */
  readonly path?: "file" | "directory";
}

export type FlagTable = readonly Flag[];

/** What parseArgs gives for a table; a flag not given is undefined. */
export type FlagValues<T extends FlagTable> = {
  [F in T[number] as F["name"]]?: F extends { type: "boolean" } ? boolean
    : F extends { multiple: true } ? readonly string[]
    : string;
};

/** Flag name → its variable, for the flags that have one. */
type EnvNames<T extends FlagTable> = {
  readonly [F in T[number] as F extends { env: string } ? F["name"] : never]: F["env"];
};

export const HELP_FLAG = {
  name: "help",
  short: "h",
  type: "boolean",
  help: "Show this help",
} as const satisfies Flag;

/** The help's lines stay within this many columns. */
const WIDTH = 100;

export function parseFlags<const T extends FlagTable>(
  command: string,
  argv: string[],
  table: T,
): FlagValues<T> {
  // Loaded on first use: a static import of node:util is evaluated at every start of the
  // compiled binary, `--version` included.
  const { parseArgs } = process.getBuiltinModule("node:util") as typeof import("node:util");
  try {
    return parseArgs({
      args: argv,
      options: parseArgsOptions(table),
      strict: true,
      allowPositionals: false,
      allowNegative: true,
    }).values as FlagValues<T>;
  } catch (error) {
    throw new UsageError(`${translate(error, command)}: run "${command} --help" for usage`);
  }
}

export function parseArgsOptions(table: FlagTable): Record<string, ParseArgsOptionDescriptor> {
  // parseArgs rejects a `short` or `multiple` key that is present but undefined.
  return Object.fromEntries(table.map((flag) => {
    const option: ParseArgsOptionDescriptor = { type: flag.type ?? "string" };
    if (flag.short !== undefined) option.short = flag.short;
    if (flag.multiple) option.multiple = true;
    return [flag.name, option];
  }));
}

/** The lines below "Flags:": synopses in one column, help wrapped beside them. */
export function flagsHelp(table: FlagTable): string {
  const rows = table.map((flag) => {
    let text = flag.help;
    if (flag.default !== undefined) text += ` (default: ${flag.default})`;
    if (flag.multiple) text += "; repeatable";
    return [synopsis(flag), text] as const;
  });
  const column = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, text]) =>
    wrap(text, WIDTH - column).map((line, i) => (i === 0 ? left : "").padEnd(column) + line)
      .join("\n")
  ).join("\n");
}

/** `  -p, --port PORT`, `      --qr, --no-qr` */
export function synopsis(flag: Flag): string {
  const long = flag.negatable === "only"
    ? `--no-${flag.name}`
    : flag.negatable
    ? `--${flag.name}, --no-${flag.name}`
    : `--${flag.name}`;
  const value = flag.type === undefined
    ? ` ${flag.value ?? flag.choices?.join("|") ?? "VALUE"}`
    : "";
  return `  ${flag.short ? `-${flag.short}, ` : "    "}${long}${value}`;
}

export function envNames<const T extends FlagTable>(table: T): EnvNames<T> {
  return Object.fromEntries(
    table.flatMap((flag) => flag.env === undefined ? [] : [[flag.name, flag.env]]),
  ) as EnvNames<T>;
}

/** One line per variable and the flag it stands for; `extra` rows are aligned with them. */
export function envHelp(table: FlagTable, extra: readonly [string, string][] = []): string {
  const rows: [string, string][] = [
    ...table.flatMap((f) =>
      f.env === undefined ? [] : [[f.env, `--${f.name}`] as [string, string]]
    ),
    ...extra,
  ];
  const column = Math.max(...rows.map(([name]) => name.length)) + 2;
  return rows.map(([name, text]) => `  ${name.padEnd(column)} ${text}`.trimEnd()).join("\n");
}

function wrap(text: string, width: number): string[] {
  return text.split("\n").flatMap((paragraph) => {
    const lines: string[] = [];
    let line = "";
    for (const word of paragraph.split(" ")) {
      if (line !== "" && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line === "" ? word : `${line} ${word}`;
      }
    }
    return [...lines, line];
  });
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
