/**
 * The upstream's chat events as an OpenAI Responses API response, in its streaming grammar:
 * `response.created`, `response.in_progress`, then per output item `response.output_item.added`
 * → its part and deltas → `response.output_item.done` (one item open at a time, `output_index`
 * from 0 without gaps), then one terminal event: `response.completed`, `response.incomplete` or
 * `response.failed`. Every event carries `sequence_number` 0, 1, 2… A whole (non-streamed) answer
 * is `response()` after the same events, so both answers agree by construction
 * (docs/responses.md#response-translation).
 */
import type { ToolOrigin } from "./tools.ts";
import { sealReasoning } from "./sealed-reasoning.ts";
import type { StreamTranslator } from "../translated-stream.ts";
import type { ChatEvent, ChatUsage } from "../../upstream/stream/chat-events.ts";

export type ResponsesEvent = { type: string; [RESPONSE_JSON]?: string } & Record<string, unknown>;

/**
 * An event that carries the response object (`response.created`…) has its JSON text under this
 * key, not the object: `sseEvent` writes it as the event's `response`.
 */
const RESPONSE_JSON = Symbol("the response's JSON");

interface ResponseOptions {
  /** `resp_…` */
  id: string;
  /** The model the client asked for: the answer names it, not the upstream's. */
  model: string;
  /** Seconds since the epoch. */
  createdAt: number;
  /** Chat function name → the tool the client declared. */
  tools: ReadonlyMap<string, ToolOrigin>;
  /** Request fields the response repeats (instructions, tools, temperature, metadata…). */
  echo: Record<string, unknown>;
  /** Milliseconds since the epoch, for `completed_at`. */
  now?: () => number;
  /** The client asked for `reasoning.encrypted_content` (`include`). */
  sealReasoning?: boolean;
  /** False for a whole answer: no events are made, only `response()` at the end. */
  events?: boolean;
}

type ItemStatus = "in_progress" | "completed" | "incomplete";

type Item =
  | {
    type: "reasoning" | "message";
    id: string;
    status: ItemStatus;
    text: string;
    /** A reasoning item carries its text sealed (`include: ["reasoning.encrypted_content"]`). */
    sealed?: boolean;
  }
  | {
    type: "function_call" | "custom_tool_call";
    id: string;
    status: ItemStatus;
    call: { id: string; name: string; arguments: string };
    origin: ToolOrigin | undefined;
  };

type TextItem = Extract<Item, { type: "reasoning" | "message" }>;

/**
 * What the response object shows when the request did not say: the values OpenAI answers with,
 * or null where the SDK's type allows it.
 */
const DEFAULTS: Readonly<Record<string, unknown>> = {
  instructions: null,
  max_output_tokens: null,
  metadata: {},
  parallel_tool_calls: true,
  previous_response_id: null,
  temperature: null,
  tool_choice: "auto",
  tools: [],
  top_p: null,
};

/** Fields the translator owns: an echoed request field never overrides them. */
const OWN_FIELDS = new Set([
  "id",
  "object",
  "created_at",
  "status",
  "completed_at",
  "error",
  "incomplete_details",
  "model",
  "output",
  "usage",
  "output_text",
]);

const INCOMPLETE_REASONS: Readonly<Record<string, string>> = {
  length: "max_output_tokens",
  content_filter: "content_filter",
};

export class ResponseTranslator implements StreamTranslator<ResponsesEvent> {
  readonly #items: Item[] = [];
  #open?: TextItem;
  #sequence = 0;
  #usage?: ChatUsage;
  #status: "in_progress" | "completed" | "incomplete" | "failed" = "in_progress";
  #incompleteReason?: string;
  #error?: { code: string; message: string };
  #completedAt?: number;
  /** The request's settings the response repeats, over the defaults. */
  readonly #settings: Record<string, unknown> = { ...DEFAULTS };
  #settingsJson?: string;

  constructor(private readonly options: ResponseOptions) {
    for (const key in options.echo) {
      const value = options.echo[key];
      if (value !== undefined && !OWN_FIELDS.has(key)) this.#settings[key] = value;
    }
  }

  /** True once a terminal event went out: completed, incomplete or failed. */
  get ended(): boolean {
    return this.#status !== "in_progress";
  }

  /** The Responses API has no stop sequences: an answer ends with the upstream's. */
  get cutShort(): boolean {
    return false;
  }

  /** The response failed (the upstream broke or sent an error). */
  get failed(): boolean {
    return this.#status === "failed";
  }

  start(out: ResponsesEvent[]): void {
    if (this.options.events === false) return;
    const json = this.#responseJson();
    this.#emitResponse(out, "response.created", json);
    this.#emitResponse(out, "response.in_progress", json);
  }

  /** The events one chat event makes, appended to `out`. */
  accept(event: ChatEvent, out: ResponsesEvent[]): void {
    if (this.ended) return;
    switch (event.type) {
      case "reasoning":
        this.#delta("reasoning", event.text, out);
        return;
      case "text":
        this.#delta("message", event.text, out);
        return;
      case "tool_call":
        this.#close("completed", out);
        this.#toolCall(event, out);
        return;
      case "usage":
        this.#usage = event.usage;
        return;
      case "finish":
        this.#end(event.reason, out);
        return;
      case "error":
        this.fail(event.message, responsesErrorCode(event), out);
        return;
    }
  }

  /** The upstream's body ended: the response ends too, if it has not already. */
  finish(out: ResponsesEvent[]): void {
    if (!this.ended) this.#end(undefined, out);
  }

  /**
   * The answer broke: `response.failed` and nothing after, so no client takes it as whole. The
   * item that was open stays as it was (no done events) and shows as incomplete.
   */
  fail(message: string, code: string | null, out: ResponsesEvent[]): void {
    if (this.ended) return;
    if (this.#open !== undefined) this.#open.status = "incomplete";
    this.#open = undefined;
    this.#status = "failed";
    this.#error = { code: code ?? "server_error", message };
    if (this.options.events !== false) {
      this.#emitResponse(out, "response.failed", this.#responseJson());
    }
  }

  /** The response object as it stands (the final one once ended). */
  response(): Record<string, unknown> {
    const { head, tail } = this.#fields();
    return { ...head, ...this.#settings, ...tail };
  }

  /** The fields of the response object before and after the settings, which never change. */
  #fields(): { head: Record<string, unknown>; tail: Record<string, unknown> } {
    const usage = this.#usage;
    return {
      head: {
        id: this.options.id,
        object: "response",
        created_at: this.options.createdAt,
        status: this.#status,
        ...(this.#completedAt === undefined ? {} : { completed_at: this.#completedAt }),
        error: this.#error ?? null,
        incomplete_details: this.#incompleteReason === undefined
          ? null
          : { reason: this.#incompleteReason },
        access_programs: null,
      },
      tail: {
        model: this.options.model,
        output: this.#items.map((item) => itemObject(item, true)),
        ...(usage === undefined ? {} : { usage: responseUsage(usage) }),
      },
    };
  }

  /**
   * `JSON.stringify(this.response())`, for an event to carry: the settings (mostly the tools, for
   * a coding agent) are serialized once per answer rather than once per event, and the object
   * itself is never built.
   */
  #responseJson(): string {
    const { head, tail } = this.#fields();
    this.#settingsJson ??= JSON.stringify(this.#settings).slice(1, -1);
    return `${JSON.stringify(head).slice(0, -1)},${this.#settingsJson},${
      JSON.stringify(tail).slice(1)
    }`;
  }

  /**
   * This answer as one chat assistant message (under the upstream's function names), for a later
   * request that continues from it; none when the answer is empty.
   */
  chatMessages(): Record<string, unknown>[] {
    const reasoning: string[] = [];
    const text: string[] = [];
    const calls: Record<string, unknown>[] = [];
    for (const item of this.#items) {
      if ("call" in item) {
        calls.push({
          id: item.call.id,
          type: "function",
          function: { name: item.call.name, arguments: item.call.arguments },
        });
      } else (item.type === "reasoning" ? reasoning : text).push(item.text);
    }
    if (reasoning.length === 0 && text.length === 0 && calls.length === 0) return [];
    const message: Record<string, unknown> = {
      role: "assistant",
      content: text.length > 0 ? text.join("\n\n") : calls.length > 0 ? null : "",
    };
    if (reasoning.length > 0) message.reasoning_content = reasoning.join("\n\n");
    if (calls.length > 0) message.tool_calls = calls;
    return [message];
  }

  #emit(out: ResponsesEvent[], type: string, fields: Record<string, unknown>): void {
    if (this.options.events === false) return;
    out.push({ type, sequence_number: this.#sequence++, ...fields });
  }

  /** An event that carries the response object, as its JSON text (`sseEvent` writes it). */
  #emitResponse(out: ResponsesEvent[], type: string, json: string): void {
    out.push({ type, sequence_number: this.#sequence++, [RESPONSE_JSON]: json });
  }

  /** Reasoning and text stream into one item per run: a change of kind closes the open one. */
  #delta(type: TextItem["type"], delta: string, out: ResponsesEvent[]): void {
    let item = this.#open;
    if (item?.type !== type) {
      this.#close("completed", out);
      item = {
        type,
        id: itemId(type === "message" ? "msg" : "rs"),
        status: "in_progress",
        text: "",
      };
      if (type === "reasoning" && this.options.sealReasoning) item.sealed = true;
      this.#open = item;
      const where = { item_id: item.id, output_index: this.#items.length };
      this.#items.push(item);
      this.#emit(out, "response.output_item.added", {
        output_index: where.output_index,
        item: itemObject(item, false),
      });
      if (type === "message") {
        this.#emit(out, "response.content_part.added", {
          ...where,
          content_index: 0,
          part: outputText(""),
        });
      } else {
        this.#emit(out, "response.reasoning_summary_part.added", {
          ...where,
          summary_index: 0,
          part: summaryText(""),
        });
      }
    }
    item.text += delta;
    // Deltas that arrive together (one batch of `out`) go out as one: an event costs more than
    // its text, and clients take any split.
    const last = out[out.length - 1];
    if (
      last !== undefined && last.item_id === item.id &&
      (last.type === "response.output_text.delta" ||
        last.type === "response.reasoning_summary_text.delta")
    ) {
      last.delta = (last.delta as string) + delta;
      return;
    }
    if (this.options.events === false) return;
    // The event of every chunk: written out whole rather than through `#emit`'s spread.
    const outputIndex = this.#items.length - 1;
    if (type === "message") {
      out.push({
        type: "response.output_text.delta",
        sequence_number: this.#sequence++,
        item_id: item.id,
        output_index: outputIndex,
        content_index: 0,
        delta,
        logprobs: [],
      });
    } else {
      out.push({
        type: "response.reasoning_summary_text.delta",
        sequence_number: this.#sequence++,
        item_id: item.id,
        output_index: outputIndex,
        summary_index: 0,
        delta,
      });
    }
  }

  #close(status: ItemStatus, out: ResponsesEvent[]): void {
    const item = this.#open;
    if (item === undefined) return;
    this.#open = undefined;
    item.status = status;
    const where = { item_id: item.id, output_index: this.#items.length - 1 };
    if (item.type === "message") {
      this.#emit(out, "response.output_text.done", {
        ...where,
        content_index: 0,
        text: item.text,
        logprobs: [],
      });
      this.#emit(out, "response.content_part.done", {
        ...where,
        content_index: 0,
        part: outputText(item.text),
      });
    } else {
      this.#emit(out, "response.reasoning_summary_text.done", {
        ...where,
        summary_index: 0,
        text: item.text,
      });
      this.#emit(out, "response.reasoning_summary_part.done", {
        ...where,
        summary_index: 0,
        part: summaryText(item.text),
      });
    }
    this.#emit(out, "response.output_item.done", {
      output_index: where.output_index,
      item: itemObject(item, true),
    });
  }

  /** Calls come whole: added, the arguments (or input) in one delta, done. */
  #toolCall(call: { id: string; name: string; arguments: string }, out: ResponsesEvent[]): void {
    const origin = this.options.tools.get(call.name);
    const type = origin?.kind === "custom" ? "custom_tool_call" : "function_call";
    const item: Item = {
      type,
      id: itemId(type === "custom_tool_call" ? "ctc" : "fc"),
      status: "in_progress",
      call,
      origin,
    };
    const where = { item_id: item.id, output_index: this.#items.length };
    this.#items.push(item);
    this.#emit(out, "response.output_item.added", {
      output_index: where.output_index,
      item: itemObject(item, false),
    });
    const text = type === "custom_tool_call"
      ? customInput(call.arguments)
      : functionArguments(call);
    const prefix = type === "custom_tool_call"
      ? "response.custom_tool_call_input"
      : "response.function_call_arguments";
    if (text !== "") this.#emit(out, `${prefix}.delta`, { ...where, delta: text });
    this.#emit(out, `${prefix}.done`, {
      ...where,
      [type === "custom_tool_call" ? "input" : "arguments"]: text,
    });
    item.status = "completed";
    this.#emit(out, "response.output_item.done", {
      output_index: where.output_index,
      item: itemObject(item, true),
    });
  }

  #end(finish: string | undefined, out: ResponsesEvent[]): void {
    const reason = finish === undefined ? undefined : INCOMPLETE_REASONS[finish];
    this.#close(reason === undefined ? "completed" : "incomplete", out);
    if (reason === undefined) {
      this.#status = "completed";
      this.#completedAt = Math.floor((this.options.now ?? Date.now)() / 1000);
      if (this.options.events !== false) {
        this.#emitResponse(out, "response.completed", this.#responseJson());
      }
    } else {
      this.#status = "incomplete";
      this.#incompleteReason = reason;
      if (this.options.events !== false) {
        this.#emitResponse(out, "response.incomplete", this.#responseJson());
      }
    }
  }
}

/** An item as the client sees it: `whole` false is its `output_item.added` form, content empty. */
function itemObject(item: Item, whole: boolean): Record<string, unknown> {
  switch (item.type) {
    case "message":
      return {
        id: item.id,
        type: "message",
        status: item.status,
        role: "assistant",
        content: whole ? [outputText(item.text)] : [],
      };
    case "reasoning":
      return {
        id: item.id,
        type: "reasoning",
        status: item.status,
        summary: whole ? [summaryText(item.text)] : [],
        ...(whole && item.sealed ? { encrypted_content: sealReasoning(item.text) } : {}),
      };
    case "function_call": {
      const origin = item.origin?.kind === "function" ? item.origin : undefined;
      return {
        id: item.id,
        type: "function_call",
        status: item.status,
        call_id: item.call.id,
        name: origin?.name ?? item.call.name,
        ...(origin?.namespace === undefined ? {} : { namespace: origin.namespace }),
        arguments: whole ? functionArguments(item.call) : "",
      };
    }
    case "custom_tool_call":
      return {
        id: item.id,
        type: "custom_tool_call",
        status: item.status,
        call_id: item.call.id,
        name: item.origin?.name ?? item.call.name,
        input: whole ? customInput(item.call.arguments) : "",
      };
  }
}

function outputText(text: string): Record<string, unknown> {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}

function summaryText(text: string): Record<string, unknown> {
  return { type: "summary_text", text };
}

/**
 * A call's arguments as they came, invalid JSON included (the client's tool reports it to the
 * model); blank ones as `{}`, which some upstreams send for a call without parameters.
 */
function functionArguments(call: { arguments: string }): string {
  return call.arguments.trim() === "" ? "{}" : call.arguments;
}

/**
 * A custom tool's free-form input: the request side offered it as a function taking
 * `{"input": string}`, so that string; anything else the model wrote goes through as it is.
 */
function customInput(args: string): string {
  try {
    const value = JSON.parse(args);
    if (typeof value === "object" && value !== null && typeof value.input === "string") {
      return value.input;
    }
  } catch {
    // Passed through below.
  }
  return args;
}

function responseUsage(usage: ChatUsage): Record<string, unknown> {
  return {
    input_tokens: usage.promptTokens,
    input_tokens_details: {
      cached_tokens: usage.cachedTokens,
      cache_write_tokens: usage.cacheWriteTokens,
    },
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

/**
 * An upstream that says it is busy gets the code clients back off on; anything else is a
 * `server_error`, the upstream's own words kept in the message.
 */
function responsesErrorCode(error: { message: string; code: string | null }): string {
  const text = `${error.code ?? ""} ${error.message}`.toLowerCase();
  return /overload|throttl|rate.?limit|capacity|too many requests/.test(text)
    ? "rate_limit_exceeded"
    : "server_error";
}

function itemId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "")}`;
}

/** One event as the SSE text the Responses API's clients read. */
export function sseEvent(event: ResponsesEvent): string {
  const response = event[RESPONSE_JSON];
  if (response === undefined) return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
  // The events that carry the response object have no other field, and a type of plain letters.
  const fields = `"type":"${event.type}","sequence_number":${event.sequence_number}`;
  return `event: ${event.type}\ndata: {${fields},"response":${response}}\n\n`;
}
