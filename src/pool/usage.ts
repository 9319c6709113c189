/**
 * Token usage from an answer without parsing it: the `usage` object of a chat completion sits
 * near the end of a JSON answer and in the last events of a stream (OpenAI's
 * `stream_options.include_usage`, DashScope's final chunk). Only the tail of the bytes is
 * decoded, the last `"usage"` key with an object value is found, and that small object alone is
 * parsed.
 */

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

/** How many bytes at the end of an answer are searched for `"usage"`. */
export const USAGE_TAIL_BYTES = 8 * 1024;

const decoder = new TextDecoder();

/** The last usage object in `text`, or undefined when there is none (or only `"usage":null`). */
export function findUsage(text: string): TokenUsage | undefined {
  let at = text.length;
  for (;;) {
    at = text.lastIndexOf('"usage"', at - 1);
    if (at < 0) return undefined;
    let i = at + 7;
    while (i < text.length && (text[i] === " " || text[i] === ":" || text[i] === "\n")) i++;
    if (text[i] !== "{") continue;
    const end = matchingBrace(text, i);
    if (end < 0) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.slice(i, end + 1));
    } catch {
      continue;
    }
    const usage = parsed as Record<string, unknown>;
    const prompt = usage.prompt_tokens ?? usage.input_tokens;
    const completion = usage.completion_tokens ?? usage.output_tokens;
    if (typeof prompt !== "number" && typeof completion !== "number") continue;
    return {
      promptTokens: typeof prompt === "number" && prompt >= 0 ? prompt : 0,
      completionTokens: typeof completion === "number" && completion >= 0 ? completion : 0,
    };
  }
}

/** The usage in the last bytes of a whole answer (a JSON completion). */
export function usageFromBytes(bytes: Uint8Array): TokenUsage | undefined {
  const start = Math.max(0, bytes.byteLength - USAGE_TAIL_BYTES);
  const found = findUsage(decoder.decode(bytes.subarray(start)));
  if (found !== undefined || start === 0 || bytes.byteLength > 1024 * 1024) return found;
  // A provider that puts `usage` before a long answer: rare, and JSON answers are small.
  return findUsage(decoder.decode(bytes));
}

/** The usage in the last chunks of a stream (kept by pass-through.ts, oldest first). */
export function usageFromChunks(chunks: readonly Uint8Array[]): TokenUsage | undefined {
  if (chunks.length === 0) return undefined;
  let size = 0;
  for (const chunk of chunks) size += chunk.byteLength;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return findUsage(decoder.decode(bytes));
}

/** The index of the `}` closing the `{` at `start`, strings respected; -1 when cut off. */
function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123) depth++;
    else if (c === 125 && --depth === 0) return i;
  }
  return -1;
}
