/**
 * How many tokens Qwen3 sees in a text or a chat completion request, estimated without a tokenizer
 * (the answer to Anthropic's `count_tokens`). One pass over the char codes splits the text the way
 * Qwen's pre-tokenizer does (letter runs with one leading space or mark, single digits, mark runs,
 * whitespace runs) and prices each piece by its class and length with the figures fitted in
 * docs/anthropic.md#count_tokens-the-estimate; a chat request is priced as Qwen3's chat template
 * renders it, without building the rendered text.
 */

/** Tokens of a text, estimated. */
export function estimateTextTokens(text: string): number {
  const tally = new TokenTally();
  if (typeof text === "string") tally.text(text);
  return tally.count();
}

/**
 * Tokens of a whole chat completion request as the model sees it, generation prompt included:
 * Qwen3's chat template around each message (<|im_start|>role\n ... <|im_end|>\n), the system turn
 * with the tool definitions (each tool's JSON in a <tools> block, with the template's instructions),
 * reasoning after the last user query, tool calls, tool results (<tool_response> in a user turn),
 * and images by their size (see imageTokens). What it does not know counts as its JSON.
 */
export function estimateChatTokens(chat: { messages?: unknown; tools?: unknown }): number {
  const tally = new TokenTally();
  const body = isObject(chat) ? chat : {};
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const systemFirst = roleOf(messages[0]) === "system";

  if (tools.length > 0) {
    tally.special(); // <|im_start|>
    tally.text("system\n");
    if (systemFirst) {
      renderContent(tally, fieldOf(messages[0], "content"));
      tally.text("\n\n");
    }
    tally.text(TOOLS_INTRO);
    for (const tool of tools) {
      tally.text("\n");
      tally.json(tool, 0);
    }
    tally.text(TOOLS_OUTRO_UNTIL_TAGS);
    tally.special(); // <tool_call>
    tally.special(); // </tool_call>
    tally.text(TOOLS_OUTRO_UNTIL_CALL);
    tally.special(); // <tool_call>
    tally.text(TOOLS_OUTRO_CALL);
    tally.special(); // </tool_call>
    tally.special(); // <|im_end|>
    tally.text("\n");
  } else if (systemFirst) {
    renderTurn(tally, "system", fieldOf(messages[0], "content"));
  }

  const lastQuery = lastQueryIndex(messages);
  for (let index = systemFirst ? 1 : 0; index < messages.length; index++) {
    const message = messages[index];
    const role = roleOf(message);
    if (role === "assistant") {
      renderAssistant(tally, message, index > lastQuery, index === messages.length - 1);
    } else if (role === "tool") {
      if (roleOf(messages[index - 1]) !== "tool") {
        tally.special(); // <|im_start|>
        tally.text("user");
      }
      tally.text("\n");
      tally.special(); // <tool_response>
      tally.text("\n");
      renderContent(tally, fieldOf(message, "content"));
      tally.text("\n");
      tally.special(); // </tool_response>
      if (roleOf(messages[index + 1]) !== "tool") {
        tally.special(); // <|im_end|>
        tally.text("\n");
      }
    } else if (isObject(message)) {
      // user, a later system, and roles the template does not know: counted as a plain turn
      renderTurn(tally, role ?? "user", message.content);
    }
  }
  // the generation prompt the upstream appends: <|im_start|>assistant\n
  tally.special();
  tally.text("assistant\n");
  return tally.count();
}

// Qwen3's chat template, the text around the tool definitions; <tool_call> and </tool_call>
// inside it are special tokens, so the text is split around them.
const TOOLS_INTRO = "# Tools\n\nYou may call one or more functions to assist with the user query." +
  "\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>";
const TOOLS_OUTRO_UNTIL_TAGS = "\n</tools>\n\nFor each function call, return a json object with " +
  "function name and arguments within ";
const TOOLS_OUTRO_UNTIL_CALL = " XML tags:\n";
const TOOLS_OUTRO_CALL = '\n{"name": <function-name>, "arguments": <args-json-object>}\n';

function renderTurn(tally: TokenTally, role: string, content: unknown): void {
  tally.special(); // <|im_start|>
  tally.text(role);
  tally.text("\n");
  renderContent(tally, content);
  tally.special(); // <|im_end|>
  tally.text("\n");
}

/** An assistant turn; its reasoning shows only after the last user query, as the template does. */
function renderAssistant(
  tally: TokenTally,
  message: unknown,
  afterLastQuery: boolean,
  last: boolean,
): void {
  const content = fieldOf(message, "content");
  const reasoning = fieldOf(message, "reasoning_content");
  tally.special(); // <|im_start|>
  tally.text("assistant\n");
  const hasReasoning = typeof reasoning === "string" && reasoning !== "";
  if (afterLastQuery && (last || hasReasoning)) {
    tally.special(); // <think>
    tally.text("\n");
    if (hasReasoning) tally.text(reasoning);
    tally.text("\n");
    tally.special(); // </think>
    tally.text("\n\n");
  }
  renderContent(tally, content);
  const calls = fieldOf(message, "tool_calls");
  if (Array.isArray(calls)) {
    const hasContent = typeof content === "string" ? content !== "" : Array.isArray(content);
    calls.forEach((call, index) => {
      if (index > 0 || hasContent) tally.text("\n");
      const fn = isObject(call) && isObject(call.function) ? call.function : call;
      tally.special(); // <tool_call>
      tally.text('\n{"name": "');
      const name = fieldOf(fn, "name");
      if (typeof name === "string") tally.text(name);
      tally.text('", "arguments": ');
      const args = fieldOf(fn, "arguments");
      if (typeof args === "string") tally.text(args);
      else tally.json(args ?? {}, 0);
      tally.text("}\n");
      tally.special(); // </tool_call>
    });
  }
  tally.special(); // <|im_end|>
  tally.text("\n");
}

/** A message's content: a string, or OpenAI parts (text, image_url; others as their JSON). */
function renderContent(tally: TokenTally, content: unknown): void {
  if (typeof content === "string") return tally.text(content);
  if (content === null || content === undefined) return;
  if (!Array.isArray(content)) return tally.json(content, 0);
  for (const part of content) {
    if (typeof part === "string") tally.text(part);
    else if (isObject(part) && typeof part.text === "string") tally.text(part.text);
    else if (isObject(part) && part.type === "image_url") {
      const url = fieldOf(part.image_url, "url");
      tally.special(); // <|vision_start|>
      tally.add(imageTokens(typeof url === "string" ? url : ""));
      tally.special(); // <|vision_end|>
    } else tally.json(part, 0);
  }
}

/** The last user message that is a query, not tool results (what the template calls so). */
function lastQueryIndex(messages: unknown[]): number {
  for (let index = messages.length - 1; index >= 0; index--) {
    if (roleOf(messages[index]) !== "user") continue;
    const content = fieldOf(messages[index], "content");
    const toolResults = typeof content === "string" && content.startsWith("<tool_response>") &&
      content.endsWith("</tool_response>");
    if (!toolResults) return index;
  }
  return messages.length - 1;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function fieldOf(value: unknown, key: string): unknown {
  return isObject(value) ? value[key] : undefined;
}

function roleOf(message: unknown): string | undefined {
  const role = fieldOf(message, "role");
  return typeof role === "string" ? role : undefined;
}

// ---------------------------------------------------------------------------------------------
// Images: Qwen3-VL gives one token to each 32×32 pixel tile of the image as its processor resizes
// it, within bounds; the size is read from the header of a base64 data URL (PNG, GIF, JPEG, WebP),
// never by decoding the image. Unknown sizes and remote URLs count as the upper bound: for deciding
// when to compact, too many is the safe side.

const IMAGE_TILE_PIXELS = 32;
const IMAGE_MIN_TOKENS = 4;
const IMAGE_MAX_TOKENS = 1280;

function imageTokens(url: string): number {
  const size = imageSize(url);
  if (size === undefined) return IMAGE_MAX_TOKENS;
  const tiles = Math.ceil(size.width / IMAGE_TILE_PIXELS) *
    Math.ceil(size.height / IMAGE_TILE_PIXELS);
  return Math.min(IMAGE_MAX_TOKENS, Math.max(IMAGE_MIN_TOKENS, tiles));
}

/** The pixel size in the header of a base64 data URL, read byte by byte out of the base64. */
function imageSize(url: string): { width: number; height: number } | undefined {
  if (!url.startsWith("data:")) return undefined;
  const comma = url.indexOf(",");
  if (comma < 0 || !url.slice(0, comma).endsWith(";base64")) return undefined;
  const b = (at: number) => base64Byte(url, comma + 1, at);
  const u16be = (at: number) => b(at) * 256 + b(at + 1);
  const u16le = (at: number) => b(at) + b(at + 1) * 256;
  const u24le = (at: number) => b(at) + b(at + 1) * 256 + b(at + 2) * 65536;
  const u32be = (at: number) => u16be(at) * 65536 + u16be(at + 2);
  const ascii = (at: number, length: number) => {
    let out = "";
    for (let i = 0; i < length; i++) out += String.fromCharCode(b(at + i));
    return out;
  };
  let size: { width: number; height: number } | undefined;
  if (ascii(1, 3) === "PNG") size = { width: u32be(16), height: u32be(20) };
  else if (ascii(0, 3) === "GIF") size = { width: u16le(6), height: u16le(8) };
  else if (ascii(0, 4) === "RIFF" && ascii(8, 4) === "WEBP") {
    const chunk = ascii(12, 4);
    if (chunk === "VP8X") size = { width: u24le(24) + 1, height: u24le(27) + 1 };
    else if (chunk === "VP8 ") size = { width: u16le(26) & 0x3fff, height: u16le(28) & 0x3fff };
    else if (chunk === "VP8L") {
      const bits = b(21) + b(22) * 256 + b(23) * 65536 + b(24) * 16777216;
      size = { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
  } else if (b(0) === 0xff && b(1) === 0xd8) {
    // JPEG: walk the segments to the first start-of-frame marker
    let at = 2;
    for (let segment = 0; segment < 256 && b(at) === 0xff; segment++) {
      const marker = b(at + 1);
      const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
        marker !== 0xcc;
      if (isFrame) {
        size = { width: u16be(at + 7), height: u16be(at + 5) };
        break;
      }
      at += 2 + u16be(at + 2);
    }
  }
  return size && size.width > 0 && size.height > 0 ? size : undefined;
}

/** The byte at `offset` of the base64 text that starts at `start`, decoding only its group of 4. */
function base64Byte(text: string, start: number, offset: number): number {
  const group = start + Math.floor(offset / 3) * 4;
  if (offset < 0 || group + 4 > text.length) return 0;
  const bits = (sextet(text.charCodeAt(group)) << 18) | (sextet(text.charCodeAt(group + 1)) << 12) |
    (sextet(text.charCodeAt(group + 2)) << 6) | sextet(text.charCodeAt(group + 3));
  return (bits >>> (16 - (offset % 3) * 8)) & 0xff;
}

function sextet(code: number): number {
  if (code >= 65 && code <= 90) return code - 65; // A-Z
  if (code >= 97 && code <= 122) return code - 71; // a-z
  if (code >= 48 && code <= 57) return code + 4; // 0-9
  if (code === 43 || code === 45) return 62; // + or -
  if (code === 47 || code === 95) return 63; // / or _
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The tally: Qwen's pre-tokenizer, followed run by run, with a price for each piece.

// character classes; the letters come first
const LOWER = 0; // a-z
const UPPER = 1; // A-Z
const ACCENTED = 2; // Latin letters beyond ASCII: a letter of the word, a little dearer
const HAN = 3; // from here to LAST_LETTER, letters priced one by one (SCRIPT_COSTS)
const RARE_HAN = 4; // beyond the BMP: two UTF-8 byte tokens or more
const KANA = 5;
const HANGUL = 6; // from here to LAST_LETTER, scripts that put spaces between words
const GREEK = 7;
const CYRILLIC = 8;
const OTHER_SCRIPT = 9; // Arabic, Hebrew, Indic, Thai, ...
const LAST_LETTER = OTHER_SCRIPT;
const DIGIT = 10;
const SPACE = 11; // the one whitespace that joins the next piece
const BLANK = 12; // tab and other whitespace
const NEWLINE = 13;
const MARK = 14; // ASCII punctuation and symbols
const SYMBOL = 15; // punctuation and symbols beyond ASCII, emoji
const TRAIL = 16; // the second half of a surrogate pair: part of the character before

/**
 * Tokens per letter of the scripts priced one by one, by class: fitted on Chinese and Japanese
 * text, checked on a paragraph each of Korean, Greek and Russian, guessed for the others.
 */
const HAN_COST = 0.6;
const SCRIPT_COSTS = [0, 0, 0, HAN_COST, 1.5, 0.61, 0.75, 1.0, 0.33, 0.45];
const ACCENT_COST = 0.4; // what an accented letter adds to its word

const ASCII_CLASS = new Uint8Array(128).map((_, code) => {
  if (code >= 97 && code <= 122) return LOWER;
  if (code >= 65 && code <= 90) return UPPER;
  if (code >= 48 && code <= 57) return DIGIT;
  if (code === 32) return SPACE;
  if (code === 10 || code === 13) return NEWLINE;
  if (code === 9 || code === 11 || code === 12) return BLANK;
  return MARK;
});

/** The class of a char code: a table for ASCII, then Han, the commonest beyond it. */
function classOf(code: number): number {
  if (code < 128) return ASCII_CLASS[code];
  return code >= 0x4e00 && code <= 0x9fff ? HAN : wideClassOf(code);
}

/** The class of a char code beyond ASCII and Han: ranges checked in order of how common they are. */
function wideClassOf(code: number): number {
  if (code >= 0x3040 && code <= 0x30ff) return code === 0x30fb ? SYMBOL : KANA;
  if (code >= 0xac00 && code <= 0xd7af) return HANGUL;
  if (code >= 0xdc00 && code <= 0xdfff) return TRAIL;
  if (code >= 0xd800 && code <= 0xdbff) {
    // planes 2 and 3 hold rare Han; the rest of the astral planes is mostly emoji
    return code >= 0xd840 && code <= 0xd8bf ? RARE_HAN : SYMBOL;
  }
  if (code < 0x250) {
    if (code === 0x85) return NEWLINE;
    if (code === 0xa0) return BLANK;
    if (code < 0xc0 || code === 0xd7 || code === 0xf7) return SYMBOL;
    return ACCENTED;
  }
  if (code < 0x370) return code < 0x2b0 ? ACCENTED : SYMBOL; // IPA; modifiers and diacritics
  if (code < 0x400) return GREEK;
  if (code < 0x530) return CYRILLIC;
  if (code >= 0x1e00 && code <= 0x1eff) return ACCENTED;
  if (code >= 0x2000 && code <= 0x2bff) {
    if (code <= 0x200a || code === 0x202f || code === 0x205f) return BLANK;
    return code === 0x2028 || code === 0x2029 ? NEWLINE : SYMBOL;
  }
  if (code >= 0x3000 && code <= 0x303f) {
    if (code === 0x3000) return BLANK;
    return code === 0x3005 ? HAN : SYMBOL;
  }
  if (code >= 0x3400 && code <= 0x4dbf) return HAN;
  if (code >= 0xf900 && code <= 0xfaff) return HAN;
  if (code >= 0xff01 && code <= 0xff20) return code >= 0xff10 && code <= 0xff19 ? DIGIT : SYMBOL;
  if (code >= 0xff3b && code <= 0xff40) return SYMBOL;
  if (code >= 0xff5b && code <= 0xff65) return SYMBOL;
  if (code >= 0xfe30 && code <= 0xfe4f) return SYMBOL; // CJK compatibility forms
  if (code >= 0xe000 && code <= 0xf8ff) return SYMBOL; // private use
  return OTHER_SCRIPT;
}

// the piece being read
const IDLE = 0;
const WORD = 1;
const MARKS = 2;
const WHITESPACE = 3;

// what stands before a run of letters, and so decides the price of its first ASCII segment
const AFTER_NOTHING = 0;
const AFTER_SPACE = 1;
const AFTER_MARK = 2;
const INSIDE = 3; // a later segment of the run: camelCase humps, ASCII after Han

// the case of an ASCII segment of a letter run
const NO_SEGMENT = -1;
const LOWERCASE = 0;
const CAPITALIZED = 1;
const UPPERCASE = 2;

/**
 * Tokens of one ASCII letter segment, as [base, length where it starts to grow, tokens per letter
 * past it], by what precedes it and by its case (the rows: after nothing, after a space, after a
 * mark, inside a run; the columns: lowercase, Capitalized, UPPERCASE). Fitted on the pieces of
 * prose, TypeScript, Python, JSON and shell text.
 */
// deno-fmt-ignore
const SEGMENT_COSTS = new Float64Array([
  // lowercase      Capitalized       UPPERCASE
  1.05, 5, 0.1,     1.2, 7, 0.15,     1.0, 2, 0.27, // after nothing
  1.0, 7, 0.05,     1.04, 6, 0.1,     1.0, 2, 0.17, // after a space
  1.1, 6, 0.17,     1.35, 5, 0.17,    1.25, 3, 0.2, // after a mark
  1.05, 8, 0.1,     1.05, 8, 0.1,     1.0, 3, 0.12, // inside a run
]);
const LONG_SEGMENT = 14; // past this length, even a common word is cut into pieces
const LONG_SEGMENT_RATE = 0.4;
const TAB_BEFORE_WORD = 0.5; // a tab joins the word after it only for a few keywords
const SYMBOL_BEFORE_WORD = 1; // a CJK comma before a word is a token of its own
// a mark before a letter of these scripts seldom merges with it, nor does a space before Han or
// kana (scripts without spaces): a token of its own, or the letter's bytes split apart
const MARK_BEFORE_SCRIPT = 1;
const SPACE_BEFORE_CJK = 1;

function segmentCostFormula(after: number, letterCase: number, length: number): number {
  const row = (after * 3 + letterCase) * 3;
  return SEGMENT_COSTS[row] +
    Math.max(0, length - SEGMENT_COSTS[row + 1]) * SEGMENT_COSTS[row + 2] +
    Math.max(0, length - LONG_SEGMENT) * LONG_SEGMENT_RATE;
}

// the formula worked out ahead for the lengths of nearly every segment: a lookup per word
const TABULATED_LENGTHS = 32;
const SEGMENT_TABLE = new Float64Array(4 * 3 * TABULATED_LENGTHS).map((_, index) => {
  const row = Math.floor(index / TABULATED_LENGTHS);
  return segmentCostFormula(Math.floor(row / 3), row % 3, index % TABULATED_LENGTHS);
});

function segmentCost(after: number, letterCase: number, length: number): number {
  if (length >= TABULATED_LENGTHS) return segmentCostFormula(after, letterCase, length);
  return SEGMENT_TABLE[(after * 3 + letterCase) * TABULATED_LENGTHS + length];
}

/** Tokens of a run of marks: short runs are one token, long ones a token per 1.4 marks. */
function marksCost(length: number, allSame: boolean): number {
  if (length <= 2) return 1;
  if (allSame) return Math.ceil(length / 32); // ---- and ==== rules are single tokens
  if (length === 3) return 1.2;
  return 0.7 * length - 1.3;
}

class TokenTally {
  private total = 0;
  private state = IDLE;
  // WORD
  private wordCost = 0;
  private wordAfter = AFTER_NOTHING;
  private wordStarted = false; // a segment or a script letter is already priced
  private segmentCase = NO_SEGMENT;
  private segmentLength = 0;
  private segmentAfter = AFTER_NOTHING;
  // MARKS
  private markCount = 0; // ASCII marks
  private symbolCount = 0; // marks beyond ASCII, a token each
  private firstMark = 0;
  private marksSame = true;
  private marksAfterSpace = false;
  private marksEndLine = false; // the newlines that end the run belong to it
  // WHITESPACE
  private blankCount = 0; // since the last newline
  private lastBlankIsSpace = false;
  private blankHasNewline = false;
  // the objects and arrays a JSON value is inside of
  private readonly jsonParents: unknown[] = [];

  /** Adds a token count for something that is not text (an image's tiles). */
  add(tokens: number): void {
    this.close(IDLE);
    this.total += tokens;
  }

  /** A special token (<|im_start|>, <tool_call>, ...): one token, and text never joins across it. */
  special(): void {
    this.close(IDLE);
    this.total += 1;
  }

  count(): number {
    this.close(IDLE);
    return Math.round(this.total);
  }

  text(text: string): void {
    this.range(text, 0, text.length);
  }

  /** The chars of `text` from `start` up to `end`, a run of one class at a time. */
  private range(text: string, start: number, end: number): void {
    let i = start;
    while (i < end) {
      const code = text.charCodeAt(i);
      const kind = classOf(code);
      if (kind <= LAST_LETTER) {
        if (this.state !== WORD) this.startWord();
        i = this.letters(text, i, end);
      } else if (kind === MARK || kind === SYMBOL || (kind === NEWLINE && this.state === MARKS)) {
        if (this.state !== MARKS || (this.marksEndLine && kind !== NEWLINE)) this.startMarks();
        i = this.marks(text, i, end);
      } else if (kind === DIGIT) {
        this.close(DIGIT);
        const after = skipWhile(text, i + 1, end, 48, 57);
        this.total += after - i; // Qwen splits numbers into single digits
        i = after;
      } else if (kind === TRAIL) i++;
      else i = this.blanks(text, i, end);
    }
  }

  /** Reads letters into the word being read, up to the first char that is none; returns there. */
  private letters(text: string, start: number, end: number): number {
    let i = start;
    while (i < end) {
      const code = text.charCodeAt(i);
      const kind = classOf(code);
      if (kind === LOWER) {
        if (this.segmentCase === LOWERCASE || this.segmentCase === CAPITALIZED) {
          const after = skipWhile(text, i + 1, end, 97, 122);
          this.segmentLength += after - i;
          i = after;
          continue;
        }
        this.lowercase();
      } else if (kind === UPPER) {
        if (this.segmentCase === UPPERCASE) this.segmentLength++;
        else {
          this.closeSegment();
          this.openSegment(UPPERCASE);
        }
      } else if (kind === HAN && this.wordStarted && this.segmentCase === NO_SEGMENT) {
        const after = skipWhile(text, i + 1, end, 0x4e00, 0x9fff);
        this.wordCost += HAN_COST * (after - i);
        i = after;
        continue;
      } else if (kind === ACCENTED) {
        this.wordCost += ACCENT_COST;
        this.lowercase();
      } else if (kind <= LAST_LETTER) this.scriptLetter(SCRIPT_COSTS[kind], kind >= HANGUL);
      else if (kind === SPACE && i + 1 < end && isLowercase(text.charCodeAt(i + 1))) {
        // " word" after a word: the commonest way a piece ends and the next starts
        this.closeWord();
        this.wordCost = 0;
        this.wordAfter = AFTER_SPACE;
        this.wordStarted = false;
      } else if (kind !== TRAIL) return i;
      i++;
    }
    return i;
  }

  /** Reads marks (and the newlines that end them) into the run being read; returns where it ends. */
  private marks(text: string, start: number, end: number): number {
    let i = start;
    for (; i < end; i++) {
      const code = text.charCodeAt(i);
      const kind = classOf(code);
      if (kind === NEWLINE) this.marksEndLine = true;
      else if (this.marksEndLine) return i;
      else if (kind === MARK) {
        if (this.markCount === 0) this.firstMark = code;
        else if (code !== this.firstMark) this.marksSame = false;
        this.markCount++;
      } else if (kind === SYMBOL) this.symbolCount++;
      else if (kind !== TRAIL) return i;
    }
    return i;
  }

  /** Reads whitespace into the run being read; returns where it ends. */
  private blanks(text: string, start: number, end: number): number {
    if (this.state !== WHITESPACE) {
      this.close(IDLE);
      this.state = WHITESPACE;
      this.blankHasNewline = false;
      this.blankCount = 0;
    }
    let i = start;
    for (; i < end; i++) {
      const code = text.charCodeAt(i);
      const kind = classOf(code);
      if (kind === SPACE || kind === BLANK) {
        this.blankCount++;
        this.lastBlankIsSpace = kind === SPACE;
      } else if (kind === NEWLINE) {
        this.blankHasNewline = true;
        this.blankCount = 0;
      } else return i;
    }
    return i;
  }

  /** A value as Python's json.dumps writes it for the template: ", " and ": ", no ASCII escapes. */
  json(value: unknown, depth: number): void {
    // parsed JSON is a tree; a value built by hand may hold itself, or nest beyond the stack
    if (depth > MAX_JSON_DEPTH || this.jsonParents.includes(value)) return;
    if (typeof value === "string") return this.jsonString(value);
    if (typeof value === "number" || typeof value === "bigint") return this.text(String(value));
    if (typeof value === "boolean") return this.text(value ? "true" : "false");
    if (Array.isArray(value)) {
      this.jsonParents.push(value);
      this.text("[");
      value.forEach((item, index) => {
        if (index > 0) this.text(", ");
        if (item === undefined || typeof item === "function") this.text("null");
        else this.json(item, depth + 1);
      });
      this.text("]");
      this.jsonParents.pop();
      return;
    }
    if (typeof value === "object" && value !== null) {
      this.jsonParents.push(value);
      this.text("{");
      let first = true;
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
        if (!first) this.text(", ");
        first = false;
        this.jsonString(key);
        this.text(": ");
        this.json(item, depth + 1);
      }
      this.text("}");
      this.jsonParents.pop();
      return;
    }
    this.text("null");
  }

  private jsonString(text: string): void {
    this.text('"');
    let plain = 0; // where the chars that need no escape start
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 32 && code !== 34 && code !== 92) continue;
      this.range(text, plain, i);
      plain = i + 1;
      this.text(JSON_ESCAPES[code] ?? `\\u00${code < 16 ? "0" : "1"}${(code & 15).toString(16)}`);
    }
    this.range(text, plain, text.length);
    this.text('"');
  }

  private startWord(): void {
    let after = AFTER_NOTHING;
    let extra = 0;
    if (
      this.state === MARKS && this.markCount + this.symbolCount === 1 && !this.marksAfterSpace &&
      !this.marksEndLine
    ) {
      // one mark before letters is read with them (".then", "_id", "(x")
      if (this.markCount === 1) after = AFTER_MARK;
      else extra = SYMBOL_BEFORE_WORD;
    } else if (this.state === WHITESPACE && this.blankCount > 0) {
      // the last blank joins the word; the ones before it are a piece of their own
      this.total += (this.blankHasNewline ? 1 : 0) + (this.blankCount > 1 ? 1 : 0);
      if (this.lastBlankIsSpace) after = AFTER_SPACE;
      else extra = TAB_BEFORE_WORD;
    } else this.close(IDLE);
    this.state = WORD;
    this.wordCost = extra;
    this.wordAfter = after;
    this.wordStarted = false;
    this.segmentCase = NO_SEGMENT;
  }

  /** A letter priced one by one; `spaced`: of a script that puts spaces between its words. */
  private scriptLetter(cost: number, spaced: boolean): void {
    this.closeSegment();
    if (!this.wordStarted) {
      if (this.wordAfter === AFTER_MARK) this.wordCost += MARK_BEFORE_SCRIPT;
      else if (this.wordAfter === AFTER_SPACE && !spaced) this.wordCost += SPACE_BEFORE_CJK;
    }
    this.wordCost += cost;
    this.wordStarted = true;
  }

  /** A lowercase letter: it goes on a segment, or turns a capital into a Capitalized one. */
  private lowercase(): void {
    if (this.segmentCase === NO_SEGMENT) this.openSegment(LOWERCASE);
    else if (this.segmentCase !== UPPERCASE) this.segmentLength++;
    else if (this.segmentLength === 1) {
      this.segmentCase = CAPITALIZED;
      this.segmentLength = 2;
    } else {
      // "HTTPServer": the last capital starts the next segment
      this.segmentLength--;
      this.closeSegment();
      this.openSegment(CAPITALIZED);
      this.segmentLength = 2;
    }
  }

  private openSegment(letterCase: number): void {
    this.segmentCase = letterCase;
    this.segmentLength = 1;
    this.segmentAfter = this.wordStarted ? INSIDE : this.wordAfter;
    this.wordStarted = true;
  }

  private closeSegment(): void {
    if (this.segmentCase === NO_SEGMENT) return;
    this.wordCost += segmentCost(this.segmentAfter, this.segmentCase, this.segmentLength);
    this.segmentCase = NO_SEGMENT;
  }

  private closeWord(): void {
    this.closeSegment();
    this.total += this.wordCost > 1 ? this.wordCost : 1;
  }

  private startMarks(): void {
    let afterSpace = false;
    if (this.state === WHITESPACE && this.blankCount > 0 && this.lastBlankIsSpace) {
      // " (": the space before marks joins them; the blanks before it are a piece
      this.total += (this.blankHasNewline ? 1 : 0) + (this.blankCount > 1 ? 1 : 0);
      afterSpace = true;
    } else this.close(MARK);
    this.state = MARKS;
    this.markCount = 0;
    this.symbolCount = 0;
    this.marksSame = true;
    this.marksAfterSpace = afterSpace;
    this.marksEndLine = false;
  }

  /** Ends the piece being read and prices it; `next` is the class that ends it (IDLE: the end). */
  private close(next: number): void {
    switch (this.state) {
      case WORD:
        this.closeWord();
        break;
      case MARKS:
        this.total += this.symbolCount +
          (this.markCount > 0 ? marksCost(this.markCount, this.marksSame) : 0);
        break;
      case WHITESPACE:
        this.total += this.blankHasNewline ? 1 : 0;
        if (this.blankCount > 0) {
          // blanks before a digit, a tab before a mark or blanks at the end stand alone
          this.total += next === DIGIT && this.blankCount > 1 ? 2 : 1;
        }
        break;
    }
    this.state = IDLE;
  }
}

/** Where the run of char codes within [low, high] that goes on at `from` ends, `end` at most. */
function skipWhile(text: string, from: number, end: number, low: number, high: number): number {
  let i = from;
  while (i < end) {
    const code = text.charCodeAt(i);
    if (code < low || code > high) break;
    i++;
  }
  return i;
}

const MAX_JSON_DEPTH = 64;
const JSON_ESCAPES: Record<number, string> = {
  8: "\\b",
  9: "\\t",
  10: "\\n",
  12: "\\f",
  13: "\\r",
  34: '\\"',
  92: "\\\\",
};

function isLowercase(code: number): boolean {
  return code >= 97 && code <= 122;
}
