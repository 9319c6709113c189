/**
 * The upstream's chat completion, streamed or whole, as a plain sequence of events that the
 * other API dialects (Anthropic Messages, OpenAI Responses) render in their own shapes: reasoning
 * text, answer text, complete tool calls, the finish reason, the usage, or an error. Deltas are
 * normalized here once, so a dialect never sees the order quirks of one upstream or another
 * (docs/anthropic.md#the-upstreams-stream).
 */

import { TextChunkShape, type TextKind } from "./text-chunk-shape.ts";

/** The token counts of a chat completion, as the upstream reported them. */
export interface ChatUsage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens read from the upstream's cache (included in `promptTokens`). */
  cachedTokens: number;
  /** Prompt tokens written to the cache, when the upstream says (included in `promptTokens`). */
  cacheWriteTokens: number;
  /** Completion tokens spent thinking, when the upstream says (included in `completionTokens`). */
  reasoningTokens: number;
}

export type ChatEvent =
  | { type: "reasoning"; text: string }
  | { type: "text"; text: string }
  /** A whole call: its arguments were gathered until the call was complete. */
  | { type: "tool_call"; id: string; name: string; arguments: string }
  | { type: "finish"; reason: string }
  | { type: "usage"; usage: ChatUsage }
  /** The stream broke, or the upstream sent an error instead of a chunk. */
  | { type: "error"; message: string; code: string | null };

interface PendingCall {
  index: number;
  id: string;
  name: string;
  arguments: string;
}

/**
 * Reads a chat completion's SSE body chunk by chunk. Lines may be split anywhere, UTF-8
 * sequences too; comments and other fields are ignored. Tool calls are held until complete: a
 * call may arrive in pieces, interleaved with others, so calls go out once text resumes, the
 * choice finishes or the stream ends, in the order of their indexes.
 */
/**
 * The most text one event may hold, its unfinished line included: an upstream that never ends
 * a line must not grow the server's memory until it runs out. Far above a real chunk.
 */
const MAX_EVENT_CHARS = 16 * 1024 * 1024;

const plainDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
const STREAMING = { stream: true };

export class ChatStreamReader {
  /** Made once a chunk ends inside a character: it keeps that character's first bytes. */
  #decoder?: TextDecoder;
  #started = false;
  #buffer = "";
  #data: string[] = [];
  #dataChars = 0;
  #calls: PendingCall[] = [];
  #finish?: string;
  #done = false;
  /** The last plain text chunk's shape: a chunk like it is read without `JSON.parse`. */
  #shape?: TextChunkShape;

  /** True once `[DONE]` came: what follows is ignored. */
  get done(): boolean {
    return this.#done;
  }

  /** The events the chunk completes, appended to `out`. */
  push(chunk: Uint8Array, out: ChatEvent[]): void {
    if (this.#done) return;
    this.#lines(this.#decode(chunk), out);
  }

  /** The body ended: what is still pending. */
  end(out: ChatEvent[]): void {
    this.#lines((this.#decoder?.decode() ?? "") + "\n\n", out);
    this.#flushCalls(out);
    this.#flushFinish(out);
  }

  /**
   * A chunk's text. Chunks nearly always end on a whole character (an event ends with a line
   * break): those need no decoder of their own, whose streaming decode costs Deno twice a plain
   * one (docs/performance.md).
   */
  #decode(chunk: Uint8Array): string {
    if (chunk.length === 0) return "";
    const first = !this.#started;
    this.#started = true;
    if (this.#decoder === undefined && chunk[chunk.length - 1] < 0x80) {
      const text = plainDecoder.decode(chunk);
      // A byte order mark is dropped at the start of the body only, as a decoder of its own does.
      return first && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    }
    this.#decoder ??= new TextDecoder("utf-8", { ignoreBOM: !first });
    return this.#decoder.decode(chunk, STREAMING);
  }

  #lines(text: string, out: ChatEvent[]): void {
    let buffer = this.#buffer + text;
    let start = 0;
    for (;;) {
      const newline = buffer.indexOf("\n", start);
      if (newline < 0) break;
      const end = newline > start && buffer.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      if (end === start) this.#eventEnd(out);
      else if (buffer.startsWith("data:", start)) {
        // One slice per line: the field's value, without the space after the colon.
        this.#dataLine(
          buffer.slice(buffer.charCodeAt(start + 5) === 32 ? start + 6 : start + 5, end),
        );
      }
      start = newline + 1;
    }
    buffer = buffer.slice(start);
    // A lone `\r` ends a line too (SSE allows it); rare enough to handle by splitting again.
    if (buffer.includes("\r")) {
      const parts = buffer.split("\r");
      buffer = parts.pop()!;
      for (const part of parts) this.#line(part, out);
    }
    this.#buffer = buffer;
    if (buffer.length + this.#dataChars > MAX_EVENT_CHARS) this.#tooLarge(out);
  }

  /** Ends the reading with an error: what the event held so far is dropped. */
  #tooLarge(out: ChatEvent[]): void {
    this.#buffer = "";
    this.#data = [];
    this.#dataChars = 0;
    this.#done = true;
    out.push({
      type: "error",
      message: `The upstream sent a stream event of more than ${
        MAX_EVENT_CHARS / 1024 / 1024
      } MiB: the response was cut`,
      code: "upstream_event_too_large",
    });
  }

  #line(line: string, out: ChatEvent[]): void {
    if (line === "") this.#eventEnd(out);
    else if (line.startsWith("data:")) {
      this.#dataLine(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
    }
  }

  #dataLine(data: string): void {
    this.#data.push(data);
    this.#dataChars += data.length;
  }

  #eventEnd(out: ChatEvent[]): void {
    const lines = this.#data;
    if (lines.length === 0) return;
    const data = lines.length === 1 ? lines[0] : lines.join("\n");
    lines.length = 0;
    this.#dataChars = 0;
    this.#dispatch(data, out);
  }

  #dispatch(data: string, out: ChatEvent[]): void {
    if (this.#done) return;
    if (data === "[DONE]") {
      this.#done = true;
      this.#flushCalls(out);
      this.#flushFinish(out);
      return;
    }
    const piece = this.#shape?.pieceOf(data);
    if (piece !== undefined) {
      this.#piece(this.#shape!.kind, piece, out);
      return;
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      out.push({
        type: "error",
        message: "The upstream sent a stream event that is not JSON",
        code: "upstream_bad_event",
      });
      return;
    }
    if (!isObject(chunk)) return;
    if (chunk.error !== undefined) {
      out.push(errorEvent(chunk.error));
      return;
    }
    const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
    if (isObject(choice)) {
      const delta = isObject(choice.delta) ? choice.delta : undefined;
      if (delta !== undefined) this.#delta(delta, out);
      if (typeof choice.finish_reason === "string") {
        // The usage may still follow (in the same chunk or the next): the finish waits for it.
        this.#flushCalls(out);
        this.#finish = choice.finish_reason;
      }
    }
    const usage = usageOf(chunk.usage);
    if (usage !== undefined) out.push({ type: "usage", usage });
    else if (isObject(choice)) this.#learnShape(data, choice);
  }

  /**
   * A chunk that said nothing but a piece of text or reasoning is the shape the next ones are
   * compared with (text-chunk-shape.ts); any other keeps the shape learnt before.
   */
  #learnShape(data: string, choice: Record<string, unknown>): void {
    const delta = choice.delta;
    if (
      !isObject(delta) || typeof choice.finish_reason === "string" ||
      Array.isArray(delta.tool_calls)
    ) return;
    const reasoning = reasoningOf(delta);
    const content = delta.content;
    let shape: TextChunkShape | undefined;
    if (typeof content === "string" && reasoning === "") {
      shape = TextChunkShape.of(data, "text", "content");
    } else if (reasoning !== "" && (content === "" || content === null || content === undefined)) {
      const key = typeof delta.reasoning_content === "string" ? "reasoning_content" : "reasoning";
      shape = TextChunkShape.of(data, "reasoning", key);
    }
    if (shape !== undefined) this.#shape = shape;
  }

  #piece(kind: TextKind, text: string, out: ChatEvent[]): void {
    if (text === "") return;
    this.#flushCalls(out);
    out.push({ type: kind, text });
  }

  #delta(delta: Record<string, unknown>, out: ChatEvent[]): void {
    this.#piece("reasoning", reasoningOf(delta), out);
    const content = delta.content;
    if (typeof content === "string") this.#piece("text", content, out);
    const calls = delta.tool_calls;
    if (Array.isArray(calls)) {
      for (let i = 0; i < calls.length; i++) {
        if (isObject(calls[i])) this.#callDelta(calls[i] as Record<string, unknown>, i);
      }
    }
  }

  #callDelta(delta: Record<string, unknown>, position: number): void {
    const id = typeof delta.id === "string" && delta.id !== "" ? delta.id : undefined;
    const fn = isObject(delta.function) ? delta.function : {};
    // Some upstreams leave out `index`: a new id starts a new call, else it continues the last.
    let index = typeof delta.index === "number" ? delta.index : undefined;
    const calls = this.#calls;
    let call = index === undefined
      ? (id === undefined ? calls.at(-1) : calls.find((c) => c.id === id))
      : calls.find((c) => c.index === index);
    if (call === undefined) {
      index ??= calls.length === 0 ? position : calls.at(-1)!.index + 1;
      call = { index, id: id ?? "", name: "", arguments: "" };
      calls.push(call);
    } else if (call.id === "" && id !== undefined) {
      call.id = id;
    }
    if (typeof fn.name === "string" && fn.name !== "" && call.name !== fn.name) {
      call.name += fn.name;
    }
    if (typeof fn.arguments === "string") call.arguments += fn.arguments;
    else if (isObject(fn.arguments)) call.arguments += JSON.stringify(fn.arguments);
  }

  #flushCalls(out: ChatEvent[]): void {
    const calls = this.#calls;
    if (calls.length === 0) return;
    this.#calls = [];
    if (calls.length > 1) calls.sort((a, b) => a.index - b.index);
    for (const call of calls) {
      out.push({
        type: "tool_call",
        id: call.id === "" ? generatedCallId() : call.id,
        name: call.name,
        arguments: call.arguments,
      });
    }
  }

  #flushFinish(out: ChatEvent[]): void {
    if (this.#finish === undefined) return;
    out.push({ type: "finish", reason: this.#finish });
    this.#finish = undefined;
  }
}

/** The events of a whole (non-streamed) chat completion, in the order a stream would bring them. */
export function completionEvents(completion: unknown): ChatEvent[] {
  const out: ChatEvent[] = [];
  if (!isObject(completion)) {
    out.push({
      type: "error",
      message: "The upstream's answer is not a chat completion",
      code: "upstream_bad_answer",
    });
    return out;
  }
  if (completion.error !== undefined) {
    out.push(errorEvent(completion.error));
    return out;
  }
  const choice = Array.isArray(completion.choices) ? completion.choices[0] : undefined;
  if (isObject(choice)) {
    const message = isObject(choice.message) ? choice.message : {};
    const reasoning = reasoningOf(message);
    if (reasoning !== "") out.push({ type: "reasoning", text: reasoning });
    if (typeof message.content === "string" && message.content !== "") {
      out.push({ type: "text", text: message.content });
    }
    if (Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls) {
        if (!isObject(call)) continue;
        const fn = isObject(call.function) ? call.function : {};
        out.push({
          type: "tool_call",
          id: typeof call.id === "string" && call.id !== "" ? call.id : generatedCallId(),
          name: typeof fn.name === "string" ? fn.name : "",
          arguments: typeof fn.arguments === "string"
            ? fn.arguments
            : JSON.stringify(fn.arguments ?? {}),
        });
      }
    }
  }
  const usage = usageOf(completion.usage);
  if (usage !== undefined) out.push({ type: "usage", usage });
  if (isObject(choice) && typeof choice.finish_reason === "string") {
    out.push({ type: "finish", reason: choice.finish_reason });
  }
  return out;
}

/** Qwen and DeepSeek name it `reasoning_content`; OpenRouter, `reasoning`. */
function reasoningOf(delta: Record<string, unknown>): string {
  const text = delta.reasoning_content ?? delta.reasoning;
  return typeof text === "string" ? text : "";
}

function usageOf(value: unknown): ChatUsage | undefined {
  if (!isObject(value)) return undefined;
  const prompt = count(value.prompt_tokens);
  const completion = count(value.completion_tokens);
  const details = isObject(value.prompt_tokens_details) ? value.prompt_tokens_details : {};
  const output = isObject(value.completion_tokens_details) ? value.completion_tokens_details : {};
  return {
    promptTokens: prompt,
    completionTokens: completion,
    cachedTokens: Math.min(count(details.cached_tokens), prompt),
    cacheWriteTokens: count(
      details.cache_creation_input_tokens ?? value.cache_creation_input_tokens,
    ),
    reasoningTokens: Math.min(count(output.reasoning_tokens), completion),
  };
}

function count(value: unknown): number {
  return typeof value === "number" && value > 0 ? Math.floor(value) : 0;
}

function errorEvent(error: unknown): ChatEvent {
  const body = isObject(error) ? error : { message: error };
  const message = typeof body.message === "string" && body.message !== ""
    ? body.message
    : "The upstream sent an error";
  const code = typeof body.code === "string" ? body.code : null;
  return { type: "error", message, code };
}

function generatedCallId(): string {
  return `call_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
