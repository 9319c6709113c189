/**
 * The command tree as every completion script sees it: one node per command and sub-command,
 * with the words that can follow it. Each shell's script is this data plus one small walker
 * (docs/development.md, "Shell completions"), so nothing about a flag is written by hand.
 */
import type { CommandShape } from "../command.ts";
import type { Flag } from "../flags.ts";

export interface Word {
  readonly word: string;
  /** One line for shells that show one (zsh, fish, PowerShell). */
  readonly help: string;
}

/** What may follow a flag that takes a value. */
type FlagValue =
  | { readonly kind: "choices"; readonly choices: readonly string[] }
  | { readonly kind: "file" | "directory" | "any" };

interface ValueFlag {
  /** Its long and short forms: `--port`, `-p`. */
  readonly words: readonly string[];
  readonly value: FlagValue;
}

export interface CompletionNode {
  /** The sub-command words leading here, joined by one space: "" for the program itself. */
  readonly key: string;
  readonly children: readonly Word[];
  /** Every form of every flag, `--no-` ones included. */
  readonly flags: readonly Word[];
  readonly valueFlags: readonly ValueFlag[];
}

/**
 * The arms of bash's and zsh's `case` that tells whether a flag takes a value: per such flag, the
 * `path|flag` pattern of its forms and what it sets (`kind`, and `choices` as the shell writes a
 * list). The shells differ only in how an arm and a list are written.
 */
export function valueCaseArms(
  nodes: readonly CompletionNode[],
  quote: (word: string) => string,
  list: (choices: readonly string[]) => string,
): { pattern: string; set: string }[] {
  return nodes.flatMap((n) =>
    n.valueFlags.map((v) => ({
      pattern: v.words.map((w) => quote(`${n.key}|${w}`)).join(" | "),
      set: v.value.kind === "choices"
        ? `kind=choices choices=${list(v.value.choices)}`
        : `kind=${v.value.kind}`,
    }))
  );
}

/** Commands, sub-commands and choices go into scripts unquoted: they must be plain words. */
const PLAIN_WORD = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;

/** Every node of the tree, the root first, each before its sub-commands. */
export function completionNodes(root: CommandShape): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const visit = (shape: CommandShape, path: readonly string[]) => {
    const subcommands = Object.entries(shape.subcommands ?? {});
    for (const [name] of subcommands) plain(name, `a sub-command of "${path.join(" ")}"`);
    nodes.push({
      key: path.join(" "),
      children: subcommands.map(([word, sub]) => ({ word, help: summary(sub.summary) })),
      flags: shape.flags.flatMap(flagWords),
      valueFlags: shape.flags.flatMap((flag) => {
        const value = flagValue(flag);
        return value === undefined ? [] : [{ words: forms(flag), value }];
      }),
    });
    for (const [name, sub] of subcommands) visit(sub, [...path, name]);
  };
  visit(root, []);
  return nodes;
}

/** `--port` and `-p`; for a negatable boolean, the forms its help shows. */
function forms(flag: Flag): string[] {
  const long = flag.negatable === "only"
    ? [`--no-${flag.name}`]
    : flag.negatable
    ? [`--${flag.name}`, `--no-${flag.name}`]
    : [`--${flag.name}`];
  for (const word of long) plain(word.slice(2), "a flag");
  return flag.short === undefined ? long : [...long, `-${plain(flag.short, "a short flag")}`];
}

function flagWords(flag: Flag): Word[] {
  return forms(flag).map((word) => ({ word, help: summary(flag.help) }));
}

function flagValue(flag: Flag): FlagValue | undefined {
  if (flag.type === "boolean") return undefined;
  if (flag.choices !== undefined) {
    return {
      kind: "choices",
      choices: flag.choices.map((c) => plain(c, `a choice of --${flag.name}`)),
    };
  }
  return { kind: flag.path ?? "any" };
}

/**
 * A help text's first sentence or clause, as a shell shows one beside each word: up to the first
 * ". ", "; " or line end outside parentheses, without the colon that introduced a list.
 */
function summary(help: string): string {
  let depth = 0;
  for (let i = 0; i < help.length; i++) {
    const c = help[i];
    if (c === "(") depth++;
    else if (c === ")") depth = Math.max(0, depth - 1);
    else if (c === "\n" || (depth === 0 && (c === "." || c === ";") && help[i + 1] === " ")) {
      return help.slice(0, i).replace(/[.:]\s*$/, "").trim();
    }
  }
  return help.replace(/[.:]\s*$/, "").trim();
}

function plain(word: string, what: string): string {
  if (!PLAIN_WORD.test(word)) {
    throw new Error(`Cannot complete ${what} "${word}": only letters, digits and _.+- are allowed`);
  }
  return word;
}

/** The program's name as part of a shell function's name: `qwen-proxy` → `qwen_proxy`. */
export function identifier(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, "_");
}
