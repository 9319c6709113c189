/**
 * An OpenAI Responses request (`POST /v1/responses`, Codex CLI's and `client.responses.create`'s)
 * turned into an OpenAI chat completion body; docs/responses.md#request-translation gives the
 * rules.
 *
 * Hand-written rather than a schema: Codex sends its whole history on every turn, so bodies reach
 * hundreds of kilobytes. It walks the body once, checks only what it reads, never copies a JSON
 * schema or a tool output (the chat body holds references to the parsed request), and builds an
 * error's field path only when it throws.
 */
import {
  BLOCK_SEPARATOR,
  isObject,
  type Json,
  mustBe,
  ResponsesRequestError,
} from "./request-checks.ts";
import { openReasoning } from "./sealed-reasoning.ts";
import { chatName, type ToolOrigin, translateToolChoice, translateTools } from "./tools.ts";

interface TextPart {
  type: "text";
  text: string;
}
interface ImagePart {
  type: "image_url";
  image_url: { url: string };
}
type ChatPart = TextPart | ImagePart;

interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** A chat completion message as this translator writes it. */
export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string | ChatPart[] }
  | { role: "assistant"; content: string; reasoning_content?: string; tool_calls?: ToolCall[] }
  | { role: "tool"; tool_call_id: string; content: string };

export interface TranslatedResponsesRequest {
  /** The model the client named, before any mapping. */
  model: string;
  stream: boolean;
  /** Whether the client wants the response kept for `previous_response_id` (OpenAI's default). */
  store: boolean;
  previousResponseId?: string;
  /**
   * The chat body without `model`, which is set per account. `messages` holds the system message
   * (from `instructions` and the system messages that open `input`) first, then this request's
   * input. With `previousResponseId`, `prependConversation` puts the stored conversation between.
   */
  chat: Record<string, unknown> & { messages: ChatMessage[] };
  /**
   * This request's input alone as chat messages, for the store: no instructions; the system
   * messages that open it stay `role: "system"` here (the system prompt of a later turn picks them
   * up); the same objects as in `chat.messages`.
   */
  input: ChatMessage[];
  /**
   * With `previousResponseId`: the `call_id`s of the tool outputs that open `input`, answering the
   * calls the previous response ended with; `prependConversation` checks them.
   */
  previousCallIds: string[];
  /** The `type` of each built-in tool left out, once each, for the caller to log. */
  droppedTools: string[];
  /** Chat function name → the Responses tool it stands for, for the response side. */
  tools: Map<string, ToolOrigin>;
  /** `include` as sent (`reasoning.encrypted_content`, ...), for the response side. */
  include: string[];
  /**
   * The request's settings as the response object repeats them: what the client sent, or
   * OpenAI's defaults (`tool_choice: "auto"`, `temperature: 1`, `truncation: "disabled"`, ...).
   */
  echo: Record<string, unknown>;
}

/** `thinking_budget` per `reasoning.effort`; `null`: thinking off; `undefined`: the model's maximum. */
const EFFORT_BUDGETS: Readonly<Record<string, number | null | undefined>> = {
  none: null,
  minimal: null,
  low: 2048,
  medium: 8192,
  high: 32768,
  // A budget over a model's longest chain of thought is a 400 upstream, so the top levels leave
  // the budget to the model rather than guess a number (as docs/anthropic.md#thinking-and-effort).
  xhigh: undefined,
  max: undefined,
};

/** The largest `max_tokens` sent upstream (docs/anthropic.md#top-level-fields says why). */
const MAX_OUTPUT_TOKENS = 65_536;
const MAX_METADATA_KEYS = 16;

/** Input item types of OpenAI's built-in tools: their calls ran on OpenAI's side, or were never offered upstream. */
const BUILT_IN_ITEMS = new Set([
  "file_search_call",
  "web_search_call",
  "computer_call",
  "computer_call_output",
  "image_generation_call",
  "code_interpreter_call",
  "local_shell_call",
  "local_shell_call_output",
  "shell_call",
  "shell_call_output",
  "apply_patch_call",
  "apply_patch_call_output",
  "mcp_list_tools",
  "mcp_approval_request",
  "mcp_approval_response",
  "mcp_call",
  "tool_search_call",
  "tool_search_output",
  "additional_tools",
  "configuration_update",
  "compaction",
  "compaction_trigger",
  "program",
  "program_output",
]);

export function translateResponsesRequest(body: unknown): TranslatedResponsesRequest {
  if (!isObject(body)) {
    throw new ResponsesRequestError("The request body must be a JSON object", null);
  }
  const model = body.model;
  if (typeof model !== "string" || model === "") throw mustBe("model", "a non-empty string");
  refuseUnsupported(body);

  const stream = readBoolean(body, "stream", false);
  const store = readBoolean(body, "store", true);
  const previousResponseId = optionalString(body, "previous_response_id");
  const instructions = optionalString(body, "instructions");
  checkMetadata(body.metadata);
  const include = readInclude(body.include);
  const truncation = body.truncation;
  if (
    truncation !== undefined && truncation !== null && truncation !== "auto" &&
    truncation !== "disabled"
  ) {
    throw mustBe("truncation", '"auto" or "disabled"');
  }

  const droppedTools: string[] = [];
  const tools = new Map<string, ToolOrigin>();
  const chatTools = translateTools(body.tools, tools, droppedTools);

  const reader = new InputReader(previousResponseId !== undefined);
  reader.read(body.input);
  const input = reader.out;

  let system = instructions ?? "";
  for (const text of reader.systemTexts) system = joinText(system, text);
  const messages: ChatMessage[] = system === "" ? [] : [{ role: "system", content: system }];
  for (let i = reader.systemTexts.length; i < input.length; i++) messages.push(input[i]);
  const chat: Json & { messages: ChatMessage[] } = { messages };

  if (chatTools.length > 0) {
    chat.tools = chatTools;
    const choice = translateToolChoice(body.tool_choice, tools);
    if (choice !== undefined) chat.tool_choice = choice;
    const parallel = body.parallel_tool_calls;
    if (parallel !== undefined && parallel !== null) {
      if (typeof parallel !== "boolean") throw mustBe("parallel_tool_calls", "a boolean");
      chat.parallel_tool_calls = parallel;
    }
  } else {
    // Checked all the same, so that a request is refused whatever tools survive.
    translateToolChoice(body.tool_choice, tools);
  }

  const maxTokens = body.max_output_tokens;
  if (maxTokens !== undefined && maxTokens !== null) {
    if (!Number.isInteger(maxTokens) || (maxTokens as number) < 1) {
      throw mustBe("max_output_tokens", "a positive integer");
    }
    // Alibaba refuses a max_tokens above the model's own limit; past it, the model's maximum applies.
    if ((maxTokens as number) <= MAX_OUTPUT_TOKENS) chat.max_tokens = maxTokens;
  }
  copyNumber(body, chat, "temperature");
  copyNumber(body, chat, "top_p");
  const user = optionalString(body, "user");
  const safetyIdentifier = optionalString(body, "safety_identifier");
  optionalString(body, "prompt_cache_key");
  // safety_identifier replaces `user` in OpenAI's abuse reports; the chat API knows only `user`.
  if (user !== undefined || safetyIdentifier !== undefined) chat.user = user ?? safetyIdentifier;
  translateTextFormat(body.text, chat);
  translateReasoning(body.reasoning, chat);
  if (stream) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }

  const result: TranslatedResponsesRequest = {
    model,
    stream,
    store,
    chat,
    input,
    previousCallIds: reader.previousCallIds,
    droppedTools,
    tools,
    include,
    echo: echoOf(body, store),
  };
  if (previousResponseId !== undefined) result.previousResponseId = previousResponseId;
  return result;
}

/**
 * Puts a stored conversation (the `input` of earlier requests and the answers to them) right
 * after the system message. System messages that open it join the system prompt; the tool
 * outputs that open this request's input must answer all the calls it ends with.
 */
export function prependConversation(
  request: TranslatedResponsesRequest,
  stored: readonly ChatMessage[],
): void {
  checkPreviousCalls(request, stored);
  const current = request.chat.messages;
  const hasSystem = current.length > 0 && current[0].role === "system";
  let system = hasSystem ? current[0].content as string : "";
  let start = 0;
  for (; start < stored.length; start++) {
    const message = stored[start];
    if (message.role !== "system") break;
    system = joinText(system, message.content);
  }
  const messages: ChatMessage[] = system === "" ? [] : [{ role: "system", content: system }];
  for (let i = start; i < stored.length; i++) messages.push(stored[i]);
  for (let i = hasSystem ? 1 : 0; i < current.length; i++) messages.push(current[i]);
  request.chat.messages = messages;
}

function checkPreviousCalls(
  request: TranslatedResponsesRequest,
  stored: readonly ChatMessage[],
): void {
  const last = stored[stored.length - 1];
  const calls = last !== undefined && last.role === "assistant" ? last.tool_calls : undefined;
  const answered = request.previousCallIds;
  for (let i = 0; i < answered.length; i++) {
    if (calls === undefined || !calls.some((call) => call.id === answered[i])) {
      throw new ResponsesRequestError(
        `Cannot match the output "input.${i}": response "${request.previousResponseId}" made no call "${
          answered[i]
        }" that is still waiting for its output`,
        `input.${i}.call_id`,
      );
    }
  }
  if (calls === undefined) return;
  for (const call of calls) {
    if (!answered.includes(call.id)) {
      throw new ResponsesRequestError(
        `Cannot continue response "${request.previousResponseId}": its call "${call.id}" needs an output item (function_call_output or custom_tool_call_output) at the start of input`,
        "input",
      );
    }
  }
}

// ---- input ----

/**
 * Reads `input` item by item into chat messages. Calls of one turn gather in one assistant
 * message; their outputs must follow it before anything else (chat APIs want the tool messages
 * right after the calls).
 */
class InputReader {
  readonly out: ChatMessage[] = [];
  /** The texts of the system messages that open the input, which join the system prompt. */
  readonly systemTexts: string[] = [];
  readonly previousCallIds: string[] = [];
  /** Until the first item that is not a system message (or, after a previous response, a tool output). */
  private leading = true;
  /** The calls of the last assistant message: call_id → its item's index, or -1 once answered. */
  private open: Map<string, number> | undefined;
  /** Images of tool outputs, for a user message after the tool messages. */
  private images: ImagePart[] | undefined;
  /** The text of reasoning items, for the next assistant message. */
  private reasoning: string | undefined;

  constructor(private readonly continues: boolean) {}

  read(input: unknown): void {
    if (typeof input === "string") {
      this.out.push({ role: "user", content: input });
      return;
    }
    if (input === undefined || input === null) {
      if (this.continues) return;
      throw mustBe("input", "a string or an array of input items");
    }
    if (!Array.isArray(input)) throw mustBe("input", "a string or an array of input items");
    for (let i = 0; i < input.length; i++) this.item(input[i], i);
    this.closeTurn();
  }

  private item(item: unknown, i: number): void {
    if (!isObject(item)) throw mustBe(`input.${i}`, "an input item object");
    let type = item.type;
    if (type === undefined || type === null) {
      if (item.role !== undefined) type = "message";
      else if (item.id !== undefined) type = "item_reference";
      else throw mustBe(`input.${i}.type`, "a string");
    }
    switch (type) {
      case "message":
        this.message(item, i);
        return;
      case "function_call": {
        const name = nonEmptyString(item, "name", i);
        const args = item.arguments;
        if (typeof args !== "string") throw mustBe(`input.${i}.arguments`, "a JSON string");
        this.call(item, i, chatName(namespaceOf(item, i), name), args);
        return;
      }
      case "custom_tool_call": {
        const name = nonEmptyString(item, "name", i);
        const text = item.input;
        if (typeof text !== "string") throw mustBe(`input.${i}.input`, "a string");
        this.call(item, i, chatName(namespaceOf(item, i), name), JSON.stringify({ input: text }));
        return;
      }
      case "function_call_output":
      case "custom_tool_call_output":
        this.output(item, i);
        return;
      case "reasoning":
        this.leading = false;
        this.addReasoning(item, i);
        return;
      case "item_reference":
        throw new ResponsesRequestError(
          `Cannot read the item reference "input.${i}": items are not stored by id here; send the item itself`,
          `input.${i}`,
        );
      default:
        if (typeof type !== "string") throw mustBe(`input.${i}.type`, "a string");
        if (BUILT_IN_ITEMS.has(type)) return;
        throw new ResponsesRequestError(
          `Cannot translate the input item "input.${i}": unknown type "${type}"`,
          `input.${i}.type`,
        );
    }
  }

  private message(item: Json, i: number): void {
    const role = item.role;
    const content = item.content;
    if (typeof content !== "string" && !Array.isArray(content)) {
      throw mustBe(`input.${i}.content`, "a string or an array of content parts");
    }
    switch (role) {
      case "system":
      case "developer": {
        const text = systemText(content, i);
        // Chat upstreams take a system message only at the start (some templates refuse one
        // later): the ones that open the input join the system prompt; later ones, and all of
        // them after a previous response, are read in place as the user's text.
        if (this.leading && !this.continues) {
          if (text === "") return;
          this.systemTexts.push(text);
          this.out.push({ role: "system", content: text });
          return;
        }
        this.closeTurn();
        this.reasoning = undefined;
        if (text !== "") this.out.push({ role: "user", content: text });
        return;
      }
      case "user":
        this.closeTurn();
        // Reasoning belongs to the assistant message it led to; before a user message it has none.
        this.reasoning = undefined;
        this.out.push({ role: "user", content: userContent(content, i) });
        return;
      case "assistant": {
        this.closeTurn();
        const message: ChatMessage = { role: "assistant", content: assistantText(content, i) };
        if (this.reasoning !== undefined) {
          message.reasoning_content = this.reasoning;
          this.reasoning = undefined;
        }
        this.out.push(message);
        return;
      }
      default: {
        const got = typeof role === "string" ? `, not "${role}"` : "";
        throw mustBe(`input.${i}.role`, `"user", "assistant", "system" or "developer"${got}`);
      }
    }
  }

  /**
   * Before anything but a call or a tool output: every call of the last assistant message must
   * have its output, and the images of the outputs go in a user message.
   */
  private closeTurn(): void {
    this.leading = false;
    if (this.open !== undefined) {
      for (const [id, at] of this.open) {
        if (at >= 0) {
          throw new ResponsesRequestError(
            `Cannot find the output of call "${id}": its function_call_output (or custom_tool_call_output) must come after it, before any other message`,
            `input.${at}`,
          );
        }
      }
      this.open = undefined;
    }
    this.flushImages();
  }

  private flushImages(): void {
    if (this.images === undefined) return;
    this.out.push({ role: "user", content: this.images });
    this.images = undefined;
  }

  private call(item: Json, i: number, name: string, args: string): void {
    const id = nonEmptyString(item, "call_id", i);
    let last = this.out[this.out.length - 1];
    if (last?.role === "tool") {
      this.closeTurn();
      last = this.out[this.out.length - 1];
    }
    this.leading = false;
    // A call joins the assistant message right before it: its text, or the calls before it.
    if (last === undefined || last.role !== "assistant") {
      last = { role: "assistant", content: "" };
      this.out.push(last);
    }
    if (this.reasoning !== undefined) {
      last.reasoning_content = last.reasoning_content === undefined
        ? this.reasoning
        : last.reasoning_content + BLOCK_SEPARATOR + this.reasoning;
      this.reasoning = undefined;
    }
    const open = this.open ??= new Map();
    if (open.has(id)) {
      throw new ResponsesRequestError(
        `Cannot translate the call "input.${i}": another call of the same turn has the call_id "${id}"`,
        `input.${i}.call_id`,
      );
    }
    open.set(id, i);
    (last.tool_calls ??= []).push({ id, type: "function", function: { name, arguments: args } });
  }

  private output(item: Json, i: number): void {
    const id = nonEmptyString(item, "call_id", i);
    const at = this.open?.get(id);
    if (at === undefined) {
      if (!(this.leading && this.continues)) {
        throw new ResponsesRequestError(
          `Cannot match the output "input.${i}": no call with call_id "${id}" comes right before it`,
          `input.${i}.call_id`,
        );
      }
      if (this.previousCallIds.includes(id)) throw answeredTwice(id, i);
      this.previousCallIds.push(id);
    } else if (at < 0) {
      throw answeredTwice(id, i);
    } else {
      this.open!.set(id, -1);
    }
    this.out.push({ role: "tool", tool_call_id: id, content: this.outputText(item.output, i) });
  }

  /** A tool output's text; its images are kept for the user message after the tool messages. */
  private outputText(output: unknown, i: number): string {
    if (typeof output === "string") return output;
    if (!Array.isArray(output)) {
      throw mustBe(`input.${i}.output`, "a string or an array of content parts");
    }
    let text = "";
    let images = 0;
    for (let p = 0; p < output.length; p++) {
      const part = output[p];
      const type = partType(part, i, p, "output");
      if (type === "input_text" || type === "output_text") {
        const piece = partText(part as Json, i, p, "output");
        if (piece !== "") text = text === "" ? piece : text + "\n" + piece;
      } else if (type === "input_image") {
        (this.images ??= []).push(imagePart(part as Json, i, p, "output"));
        images++;
      } else if (type === "input_file") {
        throw fileRefused(`input.${i}.output.${p}`);
      } else {
        throw unknownPart(type, `input.${i}.output.${p}`);
      }
    }
    if (images > 0) {
      const note = images === 1
        ? "(The image is in the next user message.)"
        : `(The ${images} images are in the next user message.)`;
      text = text === "" ? note : text + "\n" + note;
    }
    return text;
  }

  /**
   * The reasoning text of an item: its full text when sent, else its summary, else what we sealed
   * in its `encrypted_content` (OpenAI's own is opaque to us).
   */
  private addReasoning(item: Json, i: number): void {
    let text = reasoningTexts(item.content, i, "content", "reasoning_text");
    if (text === "") text = reasoningTexts(item.summary, i, "summary", "summary_text");
    if (text === "") text = openReasoning(item.encrypted_content) ?? "";
    if (text === "") return;
    this.reasoning = this.reasoning === undefined ? text : this.reasoning + BLOCK_SEPARATOR + text;
  }
}

function reasoningTexts(list: unknown, i: number, field: string, type: string): string {
  if (list === undefined || list === null) return "";
  if (!Array.isArray(list)) throw mustBe(`input.${i}.${field}`, `an array of ${type} parts`);
  let text = "";
  for (let p = 0; p < list.length; p++) {
    const part = list[p];
    if (!isObject(part) || typeof part.text !== "string") {
      throw mustBe(`input.${i}.${field}.${p}`, `a ${type} part with a text`);
    }
    if (part.text !== "") text = text === "" ? part.text : text + BLOCK_SEPARATOR + part.text;
  }
  return text;
}

function namespaceOf(item: Json, i: number): string | undefined {
  const namespace = item.namespace;
  if (namespace === undefined || namespace === null || namespace === "") return undefined;
  if (typeof namespace !== "string") throw mustBe(`input.${i}.namespace`, "a string");
  return namespace;
}

/** A system or developer message's text: its text parts joined by a blank line. */
function systemText(content: string | unknown[], i: number): string {
  if (typeof content === "string") return content;
  let text = "";
  for (let p = 0; p < content.length; p++) {
    const part = content[p];
    const type = partType(part, i, p, "content");
    if (type !== "input_text" && type !== "output_text") {
      throw new ResponsesRequestError(
        `Cannot translate the content part "input.${i}.content.${p}": a system or developer message can hold only text`,
        `input.${i}.content.${p}.type`,
      );
    }
    const piece = partText(part as Json, i, p, "content");
    if (piece !== "") text = text === "" ? piece : text + BLOCK_SEPARATOR + piece;
  }
  return text;
}

/** A user message's content: one text as a string, as most chat clients send it, else parts. */
function userContent(content: string | unknown[], i: number): string | ChatPart[] {
  if (typeof content === "string") return content;
  const parts: ChatPart[] = [];
  for (let p = 0; p < content.length; p++) {
    const part = content[p];
    const type = partType(part, i, p, "content");
    if (type === "input_text" || type === "output_text") {
      const text = partText(part as Json, i, p, "content");
      if (text !== "") parts.push({ type: "text", text });
    } else if (type === "input_image") {
      parts.push(imagePart(part as Json, i, p, "content"));
    } else if (type === "input_file") {
      throw fileRefused(`input.${i}.content.${p}`);
    } else {
      throw unknownPart(type, `input.${i}.content.${p}`);
    }
  }
  if (parts.length === 0) return "";
  if (parts.length === 1 && parts[0].type === "text") return parts[0].text;
  return parts;
}

/** An assistant message's text: its text and refusal parts joined by a blank line. */
function assistantText(content: string | unknown[], i: number): string {
  if (typeof content === "string") return content;
  let text = "";
  for (let p = 0; p < content.length; p++) {
    const part = content[p];
    const type = partType(part, i, p, "content");
    let piece: string;
    if (type === "output_text" || type === "input_text") {
      piece = partText(part as Json, i, p, "content");
    } else if (type === "refusal") {
      const refusal = (part as Json).refusal;
      if (typeof refusal !== "string") throw mustBe(`input.${i}.content.${p}.refusal`, "a string");
      piece = refusal;
    } else if (type === "input_image" || type === "input_file") {
      throw new ResponsesRequestError(
        `Cannot translate the content part "input.${i}.content.${p}": an assistant message cannot hold an "${type}" part`,
        `input.${i}.content.${p}.type`,
      );
    } else {
      throw unknownPart(type, `input.${i}.content.${p}`);
    }
    if (piece !== "") text = text === "" ? piece : text + BLOCK_SEPARATOR + piece;
  }
  return text;
}

function partType(part: unknown, i: number, p: number, field: string): string {
  if (!isObject(part)) throw mustBe(`input.${i}.${field}.${p}`, "a content part object");
  const type = part.type;
  if (typeof type !== "string") throw mustBe(`input.${i}.${field}.${p}.type`, "a string");
  return type;
}

function partText(part: Json, i: number, p: number, field: string): string {
  const text = part.text;
  if (typeof text !== "string") throw mustBe(`input.${i}.${field}.${p}.text`, "a string");
  return text;
}

function imagePart(part: Json, i: number, p: number, field: string): ImagePart {
  const url = part.image_url;
  if (typeof url === "string" && url !== "") return { type: "image_url", image_url: { url } };
  const path = `input.${i}.${field}.${p}`;
  if (part.file_id !== undefined && part.file_id !== null) {
    throw new ResponsesRequestError(
      `Cannot send the image "${path}": files uploaded through OpenAI's Files API cannot reach the upstream; send the image as a URL or a data URL in "image_url"`,
      `${path}.file_id`,
    );
  }
  throw mustBe(`${path}.image_url`, "a URL or a data URL");
}

function fileRefused(path: string): ResponsesRequestError {
  return new ResponsesRequestError(
    `Cannot send the file "${path}": the upstream cannot read files; extract the text and send it as input_text`,
    path,
  );
}

function unknownPart(type: string, path: string): ResponsesRequestError {
  return new ResponsesRequestError(
    `Cannot translate the content part "${path}": unknown type "${type}"`,
    `${path}.type`,
  );
}

function answeredTwice(id: string, i: number): ResponsesRequestError {
  return new ResponsesRequestError(
    `Cannot match the output "input.${i}": call "${id}" already has an output`,
    `input.${i}.call_id`,
  );
}

// ---- parameters ----

/** Fields whose features need OpenAI's own servers: refused rather than silently ignored. */
function refuseUnsupported(body: Json): void {
  if (body.background === true) {
    throw new ResponsesRequestError(
      'Cannot run the response in the background: "background" is not supported here; stream it instead',
      "background",
    );
  }
  if (body.conversation !== undefined && body.conversation !== null) {
    throw new ResponsesRequestError(
      'Cannot use "conversation": conversations are not supported here; chain responses with "previous_response_id", or send the whole history in "input"',
      "conversation",
    );
  }
  if (body.prompt !== undefined && body.prompt !== null) {
    throw new ResponsesRequestError(
      'Cannot use "prompt": prompt templates live on OpenAI\'s servers; send the text in "instructions" and "input"',
      "prompt",
    );
  }
}

function translateTextFormat(text: unknown, chat: Json): void {
  if (text === undefined || text === null) return;
  if (!isObject(text)) throw mustBe("text", "an object");
  const format = text.format;
  if (format === undefined || format === null) return;
  if (!isObject(format)) throw mustBe("text.format", "an object");
  switch (format.type) {
    case "text":
      return;
    case "json_object":
      chat.response_format = { type: "json_object" };
      return;
    case "json_schema": {
      const name = format.name;
      if (typeof name !== "string" || name === "") {
        throw mustBe("text.format.name", "a non-empty string");
      }
      if (!isObject(format.schema)) throw mustBe("text.format.schema", "a JSON schema object");
      const schema: Json = { name, schema: format.schema };
      if (typeof format.description === "string") schema.description = format.description;
      if (typeof format.strict === "boolean") schema.strict = format.strict;
      chat.response_format = { type: "json_schema", json_schema: schema };
      return;
    }
    default:
      throw mustBe("text.format.type", '"text", "json_schema" or "json_object"');
  }
}

function translateReasoning(reasoning: unknown, chat: Json): void {
  if (reasoning === undefined || reasoning === null) return;
  if (!isObject(reasoning)) throw mustBe("reasoning", "an object");
  const effort = reasoning.effort;
  if (effort === undefined || effort === null) return;
  if (typeof effort !== "string" || !Object.hasOwn(EFFORT_BUDGETS, effort)) {
    throw mustBe(
      "reasoning.effort",
      '"none", "minimal", "low", "medium", "high", "xhigh" or "max"',
    );
  }
  const budget = EFFORT_BUDGETS[effort];
  chat.enable_thinking = budget !== null;
  if (typeof budget === "number") chat.thinking_budget = budget;
}

function checkMetadata(metadata: unknown): void {
  if (metadata === undefined || metadata === null) return;
  if (!isObject(metadata)) throw mustBe("metadata", "an object of strings");
  let keys = 0;
  for (const key in metadata) {
    if (++keys > MAX_METADATA_KEYS) throw mustBe("metadata", "an object of at most 16 keys");
    if (typeof metadata[key] !== "string") throw mustBe(`metadata.${key}`, "a string");
  }
}

function readInclude(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw mustBe("include", "an array of strings");
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== "string") throw mustBe(`include.${i}`, "a string");
  }
  return value as string[];
}

/** The fields a response object repeats, as sent or as OpenAI's defaults; references, no copies. */
function echoOf(body: Json, store: boolean): Json {
  return {
    background: false,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: typeof body.max_tool_calls === "number" ? body.max_tool_calls : null,
    metadata: body.metadata ?? {},
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    prompt_cache_key: body.prompt_cache_key ?? null,
    reasoning: body.reasoning ?? { effort: null, summary: null },
    safety_identifier: body.safety_identifier ?? null,
    service_tier: "default",
    store,
    temperature: body.temperature ?? 1,
    text: body.text ?? { format: { type: "text" }, verbosity: "medium" },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    top_logprobs: typeof body.top_logprobs === "number" ? body.top_logprobs : 0,
    top_p: body.top_p ?? 1,
    truncation: body.truncation ?? "disabled",
    user: body.user ?? null,
  };
}

function copyNumber(body: Json, chat: Json, field: string): void {
  const value = body[field];
  if (value === undefined || value === null) return;
  if (typeof value !== "number" || !Number.isFinite(value)) throw mustBe(field, "a number");
  chat[field] = value;
}

function readBoolean(body: Json, field: string, fallback: boolean): boolean {
  const value = body[field];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") throw mustBe(field, "a boolean");
  return value;
}

function optionalString(body: Json, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw mustBe(field, "a string");
  return value === "" ? undefined : value;
}

// ---- small helpers ----

function joinText(first: string, second: string): string {
  if (first === "") return second;
  return second === "" ? first : first + BLOCK_SEPARATOR + second;
}

function nonEmptyString(item: Json, field: string, i: number): string {
  const value = item[field];
  if (typeof value !== "string" || value === "") {
    throw mustBe(`input.${i}.${field}`, "a non-empty string");
  }
  return value;
}
