/**
 * The two facts a chat completion request needs checked (a JSON object with a `messages`
 * array) and its `model`, read from the bytes without building the object: strings are skipped
 * with a native `indexOf` of the closing quote, only the structure between them is walked.
 * `JSON.parse` of a 50 KB coding-agent request costs tens of microseconds under load and makes
 * garbage of every string in it; this scan costs a few and allocates nothing but the model name.
 *
 * It answers only for a well-formed top-level object with a `messages` array; anything else
 * (an array, a syntax error, escapes in a top-level key, nesting too deep) returns undefined
 * and the caller parses the body as before, for the same answers and error messages.
 */
import { bytesEqual, hasByte } from "../bytes.ts";

export interface ChatBodyScan {
  /** The value of the last top-level `model` key when it is a string. */
  model: string | undefined;
  /** Whether a top-level `model` key is there at all (of any type). */
  hasModel: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MAX_DEPTH = 256;
const MODEL = [0x6d, 0x6f, 0x64, 0x65, 0x6c]; // model
const MESSAGES = [0x6d, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65, 0x73]; // messages
const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

const decoder = new TextDecoder();

export function scanChatBody(bytes: Uint8Array): ChatBodyScan | undefined {
  try {
    return scan(bytes);
  } catch {
    return undefined; // a model string JSON.parse refuses: the slow path words the error
  }
}

function scan(b: Uint8Array): ChatBodyScan | undefined {
  let i = ws(b, 0);
  if (b[i] !== 0x7b) return undefined; // {
  i = ws(b, i + 1);
  let model: string | undefined;
  let hasModel = false;
  let messagesArray = false;
  if (b[i] === 0x7d) return undefined; // {} has no messages
  for (;;) {
    if (b[i] !== QUOTE) return undefined;
    const keyStart = i + 1;
    const keyEnd = skipString(b, i);
    if (keyEnd < 0) return undefined;
    const isModel = bytesEqual(b, keyStart, keyEnd - 1, MODEL);
    const isMessages = !isModel && bytesEqual(b, keyStart, keyEnd - 1, MESSAGES);
    if (!isModel && !isMessages && hasByte(b, keyStart, keyEnd - 1, BACKSLASH)) {
      return undefined; // an escaped key might spell one of ours
    }
    i = ws(b, keyEnd);
    if (b[i] !== 0x3a) return undefined; // :
    i = ws(b, i + 1);
    const valueStart = i;
    i = skipValue(b, i, 0);
    if (i < 0) return undefined;
    if (isModel) {
      hasModel = true;
      model = b[valueStart] === QUOTE
        ? JSON.parse(decoder.decode(b.subarray(valueStart, i))) as string
        : undefined;
    } else if (isMessages) {
      messagesArray = b[valueStart] === 0x5b; // [
    }
    i = ws(b, i);
    if (b[i] === 0x2c) { // ,
      i = ws(b, i + 1);
      continue;
    }
    if (b[i] !== 0x7d) return undefined; // }
    i = ws(b, i + 1);
    break;
  }
  if (i !== b.length || !messagesArray) return undefined;
  return { model, hasModel };
}

function ws(b: Uint8Array, i: number): number {
  for (;;) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** `i` at the opening quote; the index after the closing one, or -1. */
function skipString(b: Uint8Array, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = b.indexOf(QUOTE, from);
    if (q < 0) return -1;
    let k = q - 1;
    while (k > i && b[k] === BACKSLASH) k--;
    if (((q - 1 - k) & 1) === 0) return q + 1;
    from = q + 1;
  }
}

/** `i` at the first byte of a value; the index after it, or -1 when it is not well formed. */
function skipValue(b: Uint8Array, i: number, depth: number): number {
  const c = b[i];
  if (c === QUOTE) return skipString(b, i);
  if (c === 0x7b || c === 0x5b) { // { [
    if (depth >= MAX_DEPTH) return -1;
    const object = c === 0x7b;
    const close = object ? 0x7d : 0x5d;
    i = ws(b, i + 1);
    if (b[i] === close) return i + 1;
    for (;;) {
      if (object) {
        if (b[i] !== QUOTE) return -1;
        i = ws(b, skipString(b, i));
        if (i < 0 || b[i] !== 0x3a) return -1;
        i = ws(b, i + 1);
      }
      i = skipValue(b, i, depth + 1);
      if (i < 0) return -1;
      i = ws(b, i);
      if (b[i] === 0x2c) {
        i = ws(b, i + 1);
        continue;
      }
      return b[i] === close ? i + 1 : -1;
    }
  }
  if (c === 0x74) return bytesEqual(b, i, i + 4, TRUE) ? i + 4 : -1;
  if (c === 0x66) return bytesEqual(b, i, i + 5, FALSE) ? i + 5 : -1;
  if (c === 0x6e) return bytesEqual(b, i, i + 4, NULL) ? i + 4 : -1;
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
    let j = i + 1;
    for (;;) {
      const d = b[j];
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
