/**
 * Token usage from an answer without parsing it: the `usage` object of a chat completion sits
 * near the end of a JSON answer and in the last events of a stream (OpenAI's
 * `stream_options.include_usage`, DashScope's final chunk). The bytes are searched backwards for
 * the last `"usage"` key with an object value, and that small object alone is decoded and parsed.
 */
import { bytesEqual, concatBytes, hasByte } from "../lib/bytes.ts";
import type { TokenUsage } from "../pool/pool.ts";

/** How many bytes at the end of a stream are kept to search for `"usage"`. */
export const USAGE_TAIL_BYTES = 8 * 1024;
/** A JSON answer is searched back this far at most. */
const MAX_SEARCH_BYTES = 1024 * 1024;

const decoder = new TextDecoder();
const encoder = new TextEncoder();
// `"usage"` as bytes.
const KEY = [0x22, 0x75, 0x73, 0x61, 0x67, 0x65, 0x22];
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The last usage object in `bytes[from..]`. Works on bytes so an answer is never decoded: only
 * the small object after the key is, once found.
 */
function findUsageInBytes(bytes: Uint8Array, from = 0): TokenUsage | undefined {
  let at = bytes.byteLength - KEY.length;
  for (;;) {
    // A negative start would count from the end: stop before it.
    if (at < from) return undefined;
    at = bytes.lastIndexOf(QUOTE, at);
    if (at < from) return undefined;
    if (!bytesEqual(bytes, at, at + KEY.length, KEY)) {
      at--;
      continue;
    }
    let i = at + KEY.length;
    while (i < bytes.byteLength && (bytes[i] === 0x20 || bytes[i] === 0x3a || bytes[i] === 0x0a)) {
      i++;
    }
    const end = bytes[i] === 0x7b ? matchingBrace(bytes, i) : -1;
    at--;
    if (end < 0) continue;
    const usage = readCounts(bytes, i, end) ?? parseUsage(bytes.subarray(i, end + 1));
    if (usage !== undefined) return usage;
  }
}

/** The usage in a whole answer (a JSON completion): it sits near the end. */
export function usageFromBytes(bytes: Uint8Array): TokenUsage | undefined {
  return findUsageInBytes(bytes, Math.max(0, bytes.byteLength - MAX_SEARCH_BYTES));
}

/** The usage in the last chunks of a stream (kept by pass-through.ts, oldest first). */
export function usageFromChunks(chunks: readonly Uint8Array[]): TokenUsage | undefined {
  if (chunks.length === 0) return undefined;
  // Usually the whole final event is in the last chunk: no copy at all.
  const found = findUsageInBytes(chunks[chunks.length - 1]);
  if (found !== undefined || chunks.length === 1) return found;
  return findUsageInBytes(concatBytes(chunks));
}

const PROMPT = [...encoder.encode("prompt_tokens")];
const INPUT = [...encoder.encode("input_tokens")];
const COMPLETION = [...encoder.encode("completion_tokens")];
const OUTPUT = [...encoder.encode("output_tokens")];

/**
 * The counts of the usage object at `bytes[start..end]` read in place: the top-level keys and
 * their integer values. Undefined when anything is unusual (an escape in a key, a value that
 * is not a plain integer), so that JSON.parse decides.
 */
function readCounts(bytes: Uint8Array, start: number, end: number): TokenUsage | undefined {
  let prompt = -1;
  let completion = -1;
  let depth = 0;
  for (let i = start; i <= end; i++) {
    const c = bytes[i];
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === QUOTE) {
      const close = bytes.indexOf(QUOTE, i + 1);
      if (close < 0 || close > end) return undefined;
      if (hasByte(bytes, i + 1, close, BACKSLASH)) return undefined;
      let j = close + 1;
      while (bytes[j] === 0x20) j++;
      if (depth !== 1 || bytes[j] !== 0x3a) { // a string value, or a key deeper down
        i = close;
        continue;
      }
      j++;
      while (bytes[j] === 0x20) j++;
      const which = countKind(bytes, i + 1, close);
      if (which !== 0) {
        let n = 0;
        let k = j;
        while (bytes[k] >= 0x30 && bytes[k] <= 0x39) n = n * 10 + bytes[k++] - 0x30;
        const next = bytes[k];
        if (k === j || (next !== 0x2c && next !== 0x7d && next !== 0x20)) return undefined;
        if (which === 1 && prompt < 0) prompt = n;
        if (which === 2 && completion < 0) completion = n;
      }
      i = j - 1;
    }
  }
  if (prompt < 0 && completion < 0) return undefined;
  return { promptTokens: Math.max(prompt, 0), completionTokens: Math.max(completion, 0) };
}

/** 1 for a prompt count's key at `bytes[start..end)`, 2 for a completion count's, else 0. */
function countKind(bytes: Uint8Array, start: number, end: number): 0 | 1 | 2 {
  if (bytesEqual(bytes, start, end, PROMPT) || bytesEqual(bytes, start, end, INPUT)) return 1;
  if (bytesEqual(bytes, start, end, COMPLETION) || bytesEqual(bytes, start, end, OUTPUT)) return 2;
  return 0;
}

function parseUsage(object: Uint8Array): TokenUsage | undefined {
  let usage: Record<string, unknown>;
  try {
    usage = JSON.parse(decoder.decode(object));
  } catch {
    return undefined;
  }
  const prompt = usage.prompt_tokens ?? usage.input_tokens;
  const completion = usage.completion_tokens ?? usage.output_tokens;
  if (typeof prompt !== "number" && typeof completion !== "number") return undefined;
  return {
    promptTokens: typeof prompt === "number" && prompt >= 0 ? prompt : 0,
    completionTokens: typeof completion === "number" && completion >= 0 ? completion : 0,
  };
}

/** The index of the `}` closing the `{` at `start`, strings respected; -1 when cut off. */
function matchingBrace(bytes: Uint8Array, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < bytes.byteLength; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === 123) depth++;
    else if (c === 125 && --depth === 0) return i;
  }
  return -1;
}
