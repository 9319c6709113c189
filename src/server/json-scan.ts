/**
 * The two facts a chat completion request needs checked (a JSON object with a `messages`
 * array) and its `model`, read without building the object: strings are skipped with a native
 * `indexOf` of the closing quote, only the structure between them is walked. `JSON.parse` of a
 * 50 KB coding-agent request costs tens of microseconds under load and makes garbage of every
 * string in it; this scan costs a few and allocates nothing but the model name.
 *
 * It reads the body as bytes or as the string they decode to, whichever the runtime searches
 * faster (Runtime.scanAsText): JSON's structural characters are ASCII and a UTF-8 sequence never
 * contains an ASCII byte, so both forms have the same structure. In one process a scan always
 * sees one of the two, so the type test at each access is predicted and costs little (on Bun,
 * bytes: ~0.4 us on a 50 KB body).
 *
 * It answers only for a well-formed top-level object with a `messages` array; anything else
 * (an array, a syntax error, escapes in a top-level key, nesting too deep) returns undefined
 * and the caller parses the body as before, for the same answers and error messages.
 *
 * `nestedTooDeep` is the one depth check every route runs before it parses a body: no API
 * request nests deeper than MAX_JSON_DEPTH, and what walks a parsed body (JSON.stringify when a
 * model is renamed, the translators, zod) recurses, so 100,000 levels overflow the stack
 * (JSON.stringify on Bun). Refusing such a body up front makes it a 400 on every route and
 * runtime, where catching a RangeError would have to be done at each walk, and would depend on
 * each runtime's stack size.
 */

interface ChatBodyScan {
  /** The value of the last top-level `model` key when it is a string. */
  model: string | undefined;
  /** Whether a top-level `model` key is there at all (of any type). */
  hasModel: boolean;
}

/** A request body: its bytes, or the string they decode to (keeping a byte order mark). */
type JsonSource = Uint8Array | string;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The deepest nesting of objects and arrays a request body may have, the top level included. */
const MAX_JSON_DEPTH = 256;

export const TOO_DEEP_MESSAGE =
  `The request body is nested deeper than ${MAX_JSON_DEPTH} levels: no API request needs that`;

const decoder = new TextDecoder();

export function scanChatBody(body: JsonSource): ChatBodyScan | undefined {
  try {
    return scan(body);
  } catch {
    return undefined; // a model string JSON.parse refuses: the slow path words the error
  }
}

function at(t: JsonSource, i: number): number {
  return typeof t === "string" ? t.charCodeAt(i) : t[i];
}

/** The index of the next quote from `from`, or -1. */
function quoteFrom(t: JsonSource, from: number): number {
  return typeof t === "string" ? t.indexOf('"', from) : t.indexOf(QUOTE, from);
}

/** Whether `t[start..end)` spells the ASCII `word` exactly. */
function spells(t: JsonSource, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (at(t, start + k) !== word.charCodeAt(k)) return false;
  return true;
}

function scan(t: JsonSource): ChatBodyScan | undefined {
  let i = ws(t, 0);
  if (at(t, i) !== 0x7b) return undefined; // {
  i = ws(t, i + 1);
  let model: string | undefined;
  let hasModel = false;
  let messagesArray = false;
  if (at(t, i) === 0x7d) return undefined; // {} has no messages
  for (;;) {
    if (at(t, i) !== QUOTE) return undefined;
    const keyStart = i + 1;
    const keyEnd = skipString(t, i);
    if (keyEnd < 0) return undefined;
    const isModel = spells(t, keyStart, keyEnd - 1, "model");
    const isMessages = !isModel && spells(t, keyStart, keyEnd - 1, "messages");
    if (!isModel && !isMessages) {
      // An escaped key might spell one of ours.
      for (let k = keyStart; k < keyEnd - 1; k++) if (at(t, k) === BACKSLASH) return undefined;
    }
    i = ws(t, keyEnd);
    if (at(t, i) !== 0x3a) return undefined; // :
    i = ws(t, i + 1);
    const valueStart = i;
    i = skipValue(t, i, 1);
    if (i < 0) return undefined;
    if (isModel) {
      hasModel = true;
      model = at(t, valueStart) === QUOTE ? parseString(t, valueStart, i) : undefined;
    } else if (isMessages) {
      messagesArray = at(t, valueStart) === 0x5b; // [
    }
    i = ws(t, i);
    if (at(t, i) === 0x2c) { // ,
      i = ws(t, i + 1);
      continue;
    }
    if (at(t, i) !== 0x7d) return undefined; // }
    i = ws(t, i + 1);
    break;
  }
  if (i !== t.length || !messagesArray) return undefined;
  return { model, hasModel };
}

/**
 * The last model value read, as its JSON text (quotes included) and as bytes: clients send the
 * same model request after request, and handing back the same string spares building it and lets
 * the maps keyed by model (accounts' model maps, metrics) reuse its hash.
 */
let lastModelText = "";
let lastModelBytes = new Uint8Array(0);
let lastModel = "";

function parseString(t: JsonSource, start: number, end: number): string {
  if (typeof t === "string") {
    if (end - start === lastModelText.length && t.startsWith(lastModelText, start)) {
      return lastModel;
    }
    const text = t.slice(start, end);
    const model = JSON.parse(text) as string;
    lastModelText = text;
    lastModel = model;
    return model;
  }
  if (end - start === lastModelBytes.length && sameBytes(t, start, lastModelBytes)) {
    return lastModel;
  }
  // A model name is short printable ASCII: read it from the bytes as they are. A view of them
  // (subarray) would cost more on Bun than the whole scan, since it makes the runtime give the
  // request's bytes an ArrayBuffer object.
  let text = "";
  for (let k = start + 1; k < end - 1; k++) {
    const c = t[k];
    if (c >= 0x7f || c < 0x20 || c === BACKSLASH) {
      return JSON.parse(decoder.decode(t.subarray(start, end))) as string;
    }
    text += String.fromCharCode(c);
  }
  lastModelBytes = t.slice(start, end);
  lastModel = text;
  return text;
}

function sameBytes(t: Uint8Array, start: number, bytes: Uint8Array): boolean {
  for (let k = 0; k < bytes.length; k++) if (t[start + k] !== bytes[k]) return false;
  return true;
}

function ws(t: JsonSource, i: number): number {
  for (;;) {
    const c = at(t, i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** `i` at the opening quote; the index after the closing one, or -1. */
function skipString(t: JsonSource, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = quoteFrom(t, from);
    if (q < 0) return -1;
    let k = q - 1;
    while (k > i && at(t, k) === BACKSLASH) k--;
    if (((q - 1 - k) & 1) === 0) return q + 1;
    from = q + 1;
  }
}

/**
 * `i` at the first character of a value inside `depth` objects and arrays; the index after it,
 * or -1 when it is not well formed or nests deeper than MAX_JSON_DEPTH.
 */
function skipValue(t: JsonSource, i: number, depth: number): number {
  const c = at(t, i);
  if (c === QUOTE) return skipString(t, i);
  if (c === 0x7b || c === 0x5b) { // { [
    if (depth >= MAX_JSON_DEPTH) return -1;
    const object = c === 0x7b;
    const close = object ? 0x7d : 0x5d;
    i = ws(t, i + 1);
    if (at(t, i) === close) return i + 1;
    for (;;) {
      if (object) {
        if (at(t, i) !== QUOTE) return -1;
        i = ws(t, skipString(t, i));
        if (i < 0 || at(t, i) !== 0x3a) return -1;
        i = ws(t, i + 1);
      }
      i = skipValue(t, i, depth + 1);
      if (i < 0) return -1;
      i = ws(t, i);
      if (at(t, i) === 0x2c) {
        i = ws(t, i + 1);
        continue;
      }
      return at(t, i) === close ? i + 1 : -1;
    }
  }
  if (c === 0x74) return spells(t, i, i + 4, "true") ? i + 4 : -1;
  if (c === 0x66) return spells(t, i, i + 5, "false") ? i + 5 : -1;
  if (c === 0x6e) return spells(t, i, i + 4, "null") ? i + 4 : -1;
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
    let j = i + 1;
    for (;;) {
      const d = at(t, j);
      // Digits, '.', 'e', 'E', '+', '-': the number's exact grammar is the upstream's to check.
      if (
        (d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b ||
        d === 0x2d
      ) j++;
      else return j;
    }
  }
  return -1;
}

/**
 * Whether some object or array of the body (the text it decodes to) nests deeper than
 * MAX_JSON_DEPTH. Brackets inside strings do not count; the body need not be valid JSON
 * (JSON.parse then says what else is wrong). 6 to 10 us for a 50 KB agent request: a quarter of
 * its decoding and JSON.parse, depending on the runtime.
 */
export function nestedTooDeep(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // To the closing quote, one not escaped by an odd run of backslashes. Not skipString:
      // on Bun the scan gives it bytes, and a string here would make each of its reads test both.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return false;
        let k = i - 1;
        while (text.charCodeAt(k) === BACKSLASH) k--;
        if (((i - 1 - k) & 1) === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) { // { [
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c === 0x7d || c === 0x5d) { // } ]
      depth--;
    }
  }
  return false;
}
