/**
 * The upstream's chat events as an Anthropic message, in Anthropic's event grammar:
 * `message_start`, then per block `content_block_start` → deltas → `content_block_stop` (one
 * block open at a time, indexes from 0 without gaps), `message_delta`, `message_stop`. A whole
 * (non-streamed) message is the same events folded (`foldMessage`), so both answers agree by
 * construction (docs/anthropic.md#response-translation).
 */
import type { ChatEvent, ChatUsage } from "../../upstream/stream/chat-events.ts";
import type { StreamTranslator } from "../translated-stream.ts";
import { StopSequences } from "./stop-sequences.ts";

export type AnthropicEvent = { type: string } & Record<string, unknown>;

type BlockKind = "thinking" | "text";

/**
 * The signature of a thinking block we made. Opaque to clients and stateless: a thinking block
 * that comes back is used whatever its signature, so no process has to remember it.
 */
const THINKING_SIGNATURE = "qwen-reasoning-v1";

const STOP_REASONS: Readonly<Record<string, string>> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  function_call: "tool_use",
  content_filter: "refusal",
};

interface MessageOptions {
  id: string;
  /** The model the client asked for: the answer names it, not the upstream's. */
  model: string;
  stopSequences: readonly string[];
}

export class MessageTranslator implements StreamTranslator<AnthropicEvent> {
  #index = -1;
  #open?: BlockKind;
  #toolUses = 0;
  #finish?: string;
  #usage?: ChatUsage;
  #ended = false;
  #bySequence = false;
  readonly #stops: StopSequences;

  constructor(private readonly options: MessageOptions) {
    this.#stops = new StopSequences(options.stopSequences);
  }

  /** True once the message ended: by a stop sequence, the upstream's finish, or an error. */
  get ended(): boolean {
    return this.#ended;
  }

  /** True when a stop sequence ended the message: the rest of the upstream's answer is unwanted. */
  get cutShort(): boolean {
    return this.#bySequence;
  }

  start(out: AnthropicEvent[]): void {
    out.push({
      type: "message_start",
      message: {
        id: this.options.id,
        type: "message",
        role: "assistant",
        model: this.options.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // Known only at the end: `message_delta` carries the real counts.
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  /** The events one chat event makes, appended to `out`. */
  accept(event: ChatEvent, out: AnthropicEvent[]): void {
    if (this.#ended) return;
    switch (event.type) {
      case "reasoning":
        this.#release(out);
        this.#delta("thinking", event.text, out);
        return;
      case "text": {
        if (!this.#stops.active) {
          this.#delta("text", event.text, out);
          return;
        }
        const { text, matched } = this.#stops.push(event.text);
        if (text !== "") this.#delta("text", text, out);
        if (matched !== undefined) {
          this.#bySequence = true;
          this.#end("stop_sequence", matched, out);
        }
        return;
      }
      case "tool_call":
        this.#release(out);
        this.#close(out);
        this.#toolUse(event.id, event.name, event.arguments, out);
        return;
      case "usage":
        this.#usage = event.usage;
        return;
      case "finish":
        this.#finish = event.reason;
        this.#release(out);
        this.#end(undefined, null, out);
        return;
      case "error":
        this.fail(streamErrorType(event), event.message, out);
        return;
    }
  }

  /** The upstream's body ended: the message ends too, if it has not already. */
  finish(out: AnthropicEvent[]): void {
    if (this.#ended) return;
    this.#release(out);
    this.#end(undefined, null, out);
  }

  /** The answer broke: an `error` event and no `message_stop`, so no client takes it as whole. */
  fail(type: string, message: string, out: AnthropicEvent[]): void {
    if (this.#ended) return;
    this.#ended = true;
    out.push({ type: "error", error: { type, message } });
  }

  /** Text held back for a stop sequence goes out once something else comes. */
  #release(out: AnthropicEvent[]): void {
    if (!this.#stops.active) return;
    const held = this.#stops.flush();
    if (held !== "") this.#delta("text", held, out);
  }

  /**
   * Text for the open block of `kind`. Deltas that arrive together (in one batch of `out`) go
   * out as one: clients take any split, and an event costs more than its text.
   */
  #delta(kind: BlockKind, text: string, out: AnthropicEvent[]): void {
    if (this.#open === kind) {
      const last = out[out.length - 1];
      if (last !== undefined && last.type === "content_block_delta") {
        const delta = last.delta as { type: string; text?: string; thinking?: string };
        if (kind === "text" && delta.type === "text_delta") {
          delta.text += text;
          return;
        }
        if (kind === "thinking" && delta.type === "thinking_delta") {
          delta.thinking += text;
          return;
        }
      }
    } else {
      this.#close(out);
      this.#open = kind;
      out.push({
        type: "content_block_start",
        index: ++this.#index,
        content_block: kind === "thinking"
          ? { type: "thinking", thinking: "", signature: "" }
          : { type: "text", text: "" },
      });
    }
    out.push({
      type: "content_block_delta",
      index: this.#index,
      delta: kind === "thinking"
        ? { type: "thinking_delta", thinking: text }
        : { type: "text_delta", text },
    });
  }

  #close(out: AnthropicEvent[]): void {
    if (this.#open === undefined) return;
    if (this.#open === "thinking") {
      out.push({
        type: "content_block_delta",
        index: this.#index,
        delta: { type: "signature_delta", signature: THINKING_SIGNATURE },
      });
    }
    out.push({ type: "content_block_stop", index: this.#index });
    this.#open = undefined;
  }

  #toolUse(id: string, name: string, args: string, out: AnthropicEvent[]): void {
    const index = ++this.#index;
    this.#toolUses++;
    // Clients take a tool's input from the deltas only: the start block's input stays empty.
    out.push({
      type: "content_block_start",
      index,
      content_block: { type: "tool_use", id, name, input: {} },
    });
    out.push({
      type: "content_block_delta",
      index,
      delta: { type: "input_json_delta", partial_json: toolInput(args) },
    });
    out.push({ type: "content_block_stop", index });
  }

  #end(stop: string | undefined, sequence: string | null, out: AnthropicEvent[]): void {
    this.#close(out);
    this.#ended = true;
    const usage = this.#usage;
    out.push({
      type: "message_delta",
      delta: { stop_reason: stop ?? this.#stopReason(), stop_sequence: sequence },
      usage: {
        input_tokens: usage ? usage.promptTokens - usage.cachedTokens - usage.cacheWriteTokens : 0,
        output_tokens: usage?.completionTokens ?? 0,
        cache_read_input_tokens: usage?.cachedTokens ?? 0,
        cache_creation_input_tokens: usage?.cacheWriteTokens ?? 0,
      },
    });
    out.push({ type: "message_stop" });
  }

  /**
   * A message with tool calls stops for them, whatever the upstream said (some say `stop`); a
   * `tool_use` stop without a tool block would leave an agent waiting for nothing.
   */
  #stopReason(): string {
    const finish = this.#finish;
    if (finish === "length") return "max_tokens";
    if (this.#toolUses > 0) return "tool_use";
    const reason = finish === undefined ? "end_turn" : STOP_REASONS[finish] ?? "end_turn";
    return reason === "tool_use" ? "end_turn" : reason;
  }
}

/** An upstream that says it is busy gets the type clients retry on; anything else is an api_error. */
function streamErrorType(error: { message: string; code: string | null }): string {
  const text = `${error.code ?? ""} ${error.message}`.toLowerCase();
  return /overload|throttl|rate.?limit|capacity|too many requests/.test(text)
    ? "overloaded_error"
    : "api_error";
}

/**
 * A call's arguments as the tool's input: a JSON object as it came, and anything else wrapped,
 * so that the agent's tool fails with a message the model can read instead of the turn failing.
 */
function toolInput(args: string): string {
  const text = args.trim();
  if (text === "") return "{}";
  try {
    const value = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return text;
  } catch {
    // Wrapped below.
  }
  return JSON.stringify({ invalid_json_arguments: args });
}

/** One event as the SSE text Anthropic's clients read. */
export function sseEvent(event: AnthropicEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** The message the events describe (a whole answer), or the error event that ended them. */
export function foldMessage(
  events: readonly AnthropicEvent[],
): { message: Record<string, unknown> } | { error: { type: string; message: string } } {
  let message: Record<string, unknown> = {};
  const content: Record<string, unknown>[] = [];
  const inputs: string[] = [];
  for (const event of events) {
    switch (event.type) {
      case "message_start":
        message = { ...(event.message as Record<string, unknown>), content };
        break;
      case "content_block_start":
        content.push({ ...(event.content_block as Record<string, unknown>) });
        inputs.push("");
        break;
      case "content_block_delta": {
        const index = event.index as number;
        const block = content[index];
        const delta = event.delta as Record<string, string>;
        if (delta.type === "text_delta") block.text += delta.text;
        else if (delta.type === "thinking_delta") block.thinking += delta.thinking;
        else if (delta.type === "signature_delta") block.signature = delta.signature;
        else if (delta.type === "input_json_delta") inputs[index] += delta.partial_json;
        break;
      }
      case "content_block_stop": {
        const index = event.index as number;
        if (content[index].type === "tool_use") content[index].input = JSON.parse(inputs[index]);
        break;
      }
      case "message_delta":
        Object.assign(message, event.delta);
        message.usage = event.usage;
        break;
      case "error":
        return { error: event.error as { type: string; message: string } };
    }
  }
  return { message };
}
