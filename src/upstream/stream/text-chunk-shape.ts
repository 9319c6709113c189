/**
 * Most of a chat stream's chunks are alike: the same id, model and fields, and a different
 * piece of text. Once one such chunk was parsed, the next ones are told apart by comparing
 * their text around that piece, with no `JSON.parse` (docs/performance.md, "A translated
 * stream's work per chunk").
 *
 * Exact, not a guess: a chunk that has the learnt chunk's text before the piece's string and the
 * same text after it, and between them the body of one valid JSON string, is the learnt chunk
 * with another string in that place, so it means what that one meant with another piece. Any
 * other chunk is parsed.
 */

/** Which event the piece is: the answer's text, or its reasoning. */
export type TextKind = "text" | "reasoning";

/**
 * A string body that needs `JSON.parse` to be read (escapes), or is not one (a quote, or a
 * control character, which JSON allows only escaped).
 */
// deno-lint-ignore no-control-regex
const NOT_PLAIN = /["\\\u0000-\u001f]/;

export class TextChunkShape {
  private constructor(
    readonly kind: TextKind,
    private readonly before: string,
    private readonly after: string,
  ) {}

  /**
   * The shape of `data`, a chunk that was parsed and found to say nothing but a piece of `kind`
   * under `key` (`content`, `reasoning_content` or `reasoning`); none when the key is not there
   * exactly once with a string value.
   */
  static of(data: string, kind: TextKind, key: string): TextChunkShape | undefined {
    const quoted = `"${key}"`;
    const at = data.indexOf(quoted);
    if (at < 0 || data.indexOf(quoted, at + quoted.length) >= 0) return undefined;
    let i = skipSpace(data, at + quoted.length);
    if (data.charCodeAt(i) !== 58 /* : */) return undefined;
    i = skipSpace(data, i + 1);
    if (data.charCodeAt(i) !== 34 /* " */) return undefined;
    const open = i;
    for (i = open + 1; i < data.length; i++) {
      const c = data.charCodeAt(i);
      if (c === 92 /* \ */) i++;
      else if (c === 34) return new TextChunkShape(kind, data.slice(0, open + 1), data.slice(i));
    }
    return undefined;
  }

  /** The piece `data` holds, when it is a chunk of this shape. */
  pieceOf(data: string): string | undefined {
    const { before, after } = this;
    const end = data.length - after.length;
    // Not `startsWith`: on V8 it costs as much as the parse it saves (docs/performance.md).
    if (
      end < before.length || data.substring(0, before.length) !== before ||
      data.substring(end) !== after
    ) return undefined;
    const body = data.slice(before.length, end);
    if (!NOT_PLAIN.test(body)) return body;
    try {
      // Valid only when the body is one whole string: a quote in it ends the string early.
      return JSON.parse(`"${body}"`) as string;
    } catch {
      return undefined;
    }
  }
}

function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return i;
    i++;
  }
}
