/**
 * Where a text stops being JSON, in words that quote none of it. The runtimes' own `JSON.parse`
 * messages quote the text around the fault ("Unexpected token 's', ..."access_token": sk-..."),
 * and the text of a credentials file is a token.
 */

/** What is wrong and where (`unexpected character at line 2, column 5`); for text JSON refused. */
export function jsonSyntaxError(text: string): string {
  const fault = findFault(text);
  if (fault === undefined) return "not valid JSON";
  const { line, column } = lineAndColumn(text, fault.at);
  return `not valid JSON (${fault.what} at line ${line}, column ${column})`;
}

interface Fault {
  what: string;
  /** Offset in the text (UTF-16 units). */
  at: number;
}

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
const ESCAPES = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

/**
 * Walks the grammar of RFC 8259 without recursion (a corrupt file may open thousands of
 * brackets) and returns the first place it does not allow; undefined when it finds none.
 */
function findFault(text: string): Fault | undefined {
  /** The containers open around the current position, innermost last. */
  const open: ("{" | "[")[] = [];
  let i = 0;
  const skipBlanks = () => {
    while (i < text.length && WHITESPACE.has(text[i])) i++;
  };
  const unexpected = (): Fault => ({
    what: i >= text.length ? "unexpected end of the text" : "unexpected character",
    at: i,
  });

  // Each turn reads one value, then what may follow it.
  for (;;) {
    skipBlanks();
    const c = text[i];
    if (c === "{" || c === "[") {
      open.push(c);
      i++;
      skipBlanks();
      if (text[i] === (c === "{" ? "}" : "]")) {
        open.pop();
        i++;
      } else if (c === "{") {
        const fault = readKey();
        if (fault) return fault;
        continue;
      } else {
        continue;
      }
    } else if (c === '"') {
      const fault = readString();
      if (fault) return fault;
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text)) return unexpected();
      i = NUMBER.lastIndex;
    } else if (text.startsWith("true", i)) {
      i += 4;
    } else if (text.startsWith("false", i)) {
      i += 5;
    } else if (text.startsWith("null", i)) {
      i += 4;
    } else {
      return unexpected();
    }

    // After a value: a comma, the end of its container, or the end of the text.
    for (;;) {
      skipBlanks();
      const container = open[open.length - 1];
      if (container === undefined) return i < text.length ? unexpected() : undefined;
      const next = text[i];
      if (next === ",") {
        i++;
        if (container === "{") {
          const fault = readKey();
          if (fault) return fault;
        }
        break;
      }
      if (next === (container === "{" ? "}" : "]")) {
        open.pop();
        i++;
        continue;
      }
      return unexpected();
    }
  }

  /** `"name":` up to the value. */
  function readKey(): Fault | undefined {
    skipBlanks();
    if (text[i] !== '"') return unexpected();
    const fault = readString();
    if (fault) return fault;
    skipBlanks();
    if (text[i] !== ":") return unexpected();
    i++;
    return undefined;
  }

  function readString(): Fault | undefined {
    const start = i;
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i++;
        return undefined;
      }
      if (c < " ") return { what: "control character in a string", at: i };
      if (c === "\\") {
        const e = text[i + 1];
        if (e === "u") {
          HEX4.lastIndex = i + 2;
          if (!HEX4.test(text)) return { what: "bad escape in a string", at: i };
          i += 6;
          continue;
        }
        if (e === undefined || !ESCAPES.has(e)) return { what: "bad escape in a string", at: i };
        i += 2;
        continue;
      }
      i++;
    }
    return { what: "string never closed", at: start };
  }
}

function lineAndColumn(text: string, at: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < at && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: at - lineStart + 1 };
}
