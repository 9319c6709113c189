/**
 * `qwen serve --env-file PATH`: variables read from a file, at start and again on SIGHUP, since a
 * process cannot re-read the environment it was started with. The syntax is the part of systemd's
 * `EnvironmentFile=` that such files use, so that one file can be both:
 *
 * - one `KEY=value` per line; blank lines and lines starting with `#` or `;` are skipped;
 * - blanks around the key and before the value are dropped, and so are blanks ending a value;
 * - a value may start with a quoted part: `'...'` is taken as it is, `"..."` turns `\"`, `\\`,
 *   `` \` `` and `\$` into the character and keeps other backslashes; blanks after a quoted part
 *   are dropped, and another quoted part may follow;
 * - outside quotes a backslash takes the next character as it is, and at the end of a line joins
 *   the next line; a `#` after the value is part of it, as systemd reads it.
 *
 * Anything else (a line without `=`, a name that is not a variable name, an unclosed quote) is an
 * error naming the line, never its content, which may be a key.
 */
import { readFile } from "node:fs/promises";
import { UsageError } from "../lib/errors.ts";

type Env = Readonly<Record<string, string | undefined>>;

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Characters a backslash escapes inside double quotes, as in a shell. */
const DOUBLE_QUOTE_ESCAPES = new Set(['"', "\\", "`", "$"]);

class SyntaxProblem extends Error {
  constructor(readonly line: number, reason: string) {
    super(`line ${line}: ${reason}`);
  }
}

/** The file as variables over the environment; see the module comment for the rules. */
export class EnvFile {
  /**
   * Every name the file has held since the start: one it no longer holds is unset, not taken
   * from the environment, which under systemd was read from this same file at start.
   */
  readonly #named = new Set<string>();

  constructor(readonly path: string) {}

  /**
   * `env` with the file's variables over it. A missing file reads as empty (`missing`), so that a
   * service may start before the file is written; an unreadable or malformed one is an error.
   */
  async apply(env: Env): Promise<{ env: Env; missing: boolean }> {
    let text: string;
    let missing = false;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as { code?: string }).code !== "ENOENT") {
        throw new UsageError(
          `Cannot read the env file "${this.path}": ${(error as Error).message}`,
        );
      }
      text = "";
      missing = true;
    }
    let variables: Map<string, string>;
    try {
      variables = parse(text);
    } catch (error) {
      if (!(error instanceof SyntaxProblem)) throw error;
      throw new UsageError(`Cannot read the env file "${this.path}": ${error.message}`);
    }
    for (const name of variables.keys()) this.#named.add(name);
    const merged: Record<string, string | undefined> = { ...env };
    for (const name of this.#named) delete merged[name];
    for (const [name, value] of variables) merged[name] = value;
    return { env: merged, missing };
  }
}

function parse(text: string): Map<string, string> {
  const variables = new Map<string, string>();
  const reader = new Reader(text.replaceAll("\r\n", "\n"));
  while (!reader.done) {
    reader.skipBlanks();
    const c = reader.peek();
    if (c === undefined) break;
    if (c === "\n") {
      reader.next();
      continue;
    }
    if (c === "#" || c === ";") {
      reader.skipLine();
      continue;
    }
    const line = reader.line;
    const key = reader.until("=", true);
    if (key === undefined) throw new SyntaxProblem(line, "expected KEY=value");
    if (!VARIABLE_NAME.test(key.trim())) {
      throw new SyntaxProblem(line, 'expected a variable name (letters, digits, "_") before "="');
    }
    variables.set(key.trim(), readValue(reader));
  }
  return variables;
}

/** The value after `=`, up to the end of its line (or of the lines a backslash joined). */
function readValue(reader: Reader): string {
  let value = "";
  // Quotes open only where the value starts or right after a quoted part, as systemd has it.
  for (;;) {
    reader.skipBlanks();
    const c = reader.peek();
    if (c === "'" || c === '"') {
      const line = reader.line;
      reader.next();
      const part = c === "'" ? reader.until("'", false) : readDoubleQuoted(reader);
      if (part === undefined) throw new SyntaxProblem(line, `the quote ${c} is not closed`);
      value += part;
      continue;
    }
    break;
  }
  // The unquoted rest: blanks inside it stay, blanks ending it go.
  let rest = "";
  let kept = 0;
  for (let c = reader.peek(); c !== undefined && c !== "\n"; c = reader.peek()) {
    reader.next();
    if (c === "\\") {
      const escaped = reader.next();
      if (escaped !== undefined && escaped !== "\n") rest += escaped;
      kept = rest.length;
      continue;
    }
    rest += c;
    if (c !== " " && c !== "\t") kept = rest.length;
  }
  return value + rest.slice(0, kept);
}

/** After an opening `"`: the text up to the closing one, or undefined when there is none. */
function readDoubleQuoted(reader: Reader): string | undefined {
  let part = "";
  for (;;) {
    const c = reader.next();
    if (c === undefined) return undefined;
    if (c === '"') return part;
    if (c !== "\\") {
      part += c;
      continue;
    }
    const escaped = reader.next();
    if (escaped === undefined) return undefined;
    if (escaped === "\n") continue;
    part += DOUBLE_QUOTE_ESCAPES.has(escaped) ? escaped : `\\${escaped}`;
  }
}

/** The file's characters in order, counting lines for the messages. */
class Reader {
  #at = 0;
  line = 1;

  constructor(private readonly text: string) {}

  get done(): boolean {
    return this.#at >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.#at];
  }

  next(): string | undefined {
    const c = this.text[this.#at];
    if (c === undefined) return undefined;
    this.#at++;
    if (c === "\n") this.line++;
    return c;
  }

  skipBlanks(): void {
    while (this.peek() === " " || this.peek() === "\t") this.#at++;
  }

  skipLine(): void {
    for (let c = this.next(); c !== undefined && c !== "\n"; c = this.next());
  }

  /** The text up to `end` (consumed); undefined when the file, or with `withinLine` the line, ends first. */
  until(end: string, withinLine: boolean): string | undefined {
    for (let i = this.#at; i < this.text.length; i++) {
      const c = this.text[i];
      if (c === end) {
        const part = this.text.slice(this.#at, i);
        for (const d of part) if (d === "\n") this.line++;
        this.#at = i + 1;
        return part;
      }
      if (withinLine && c === "\n") return undefined;
    }
    return undefined;
  }
}
