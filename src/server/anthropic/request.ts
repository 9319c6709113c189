/**
 * An Anthropic Messages request (`POST /v1/messages`, `/v1/messages/count_tokens`) turned into
 * an OpenAI chat completion body; docs/anthropic.md#request-translation gives the rules.
 *
 * Hand-written rather than a schema: it runs on every request of an agent, whose bodies reach
 * hundreds of kilobytes. It walks the body once, checks only what it reads, never copies a JSON
 * schema, a tool input or a cache marker (the chat body holds references to the parsed request),
 * and builds an error's field path only when it throws.
 */

/** A request the upstream cannot be given; the route answers 400 `invalid_request_error`. */
export class AnthropicRequestError extends Error {
  constructor(message: string, readonly param: string | null) {
    super(message);
    this.name = "AnthropicRequestError";
  }
}

export interface TranslatedRequest {
  /** The model the client named, before any mapping. */
  model: string;
  stream: boolean;
  /**
   * Never sent upstream: a chat `stop` cuts the text without saying which sequence matched, so
   * the response side watches for them itself.
   */
  stopSequences: string[];
  /** The chat body without `model`, which is set per account. */
  chat: Record<string, unknown>;
  /** The `type` of each server tool left out, once each, for the caller to log. */
  droppedTools: string[];
}

type Json = Record<string, unknown>;

interface TextPart {
  type: "text";
  text: string;
  cache_control?: unknown;
}
interface ImagePart {
  type: "image_url";
  image_url: { url: string };
  cache_control?: unknown;
}
type ChatPart = TextPart | ImagePart;

interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

type ChatMessage =
  | { role: "system" | "user"; content: string | ChatPart[] }
  | {
    role: "assistant";
    content: string | TextPart[];
    reasoning_content?: string;
    tool_calls?: ToolCall[];
  }
  | { role: "tool"; tool_call_id: string; content: string | TextPart[] };

/** The tool calls of the assistant message right before a user turn: id → answered yet. */
type OpenCalls = Map<string, boolean>;

/** `thinking_budget` per `output_config.effort`; `undefined`: the model's own maximum. */
const EFFORT_BUDGETS: Readonly<Record<string, number | undefined>> = {
  low: 2048,
  medium: 8192,
  high: 32768,
  // A budget over a model's longest chain of thought is a 400 upstream, so the two top levels
  // leave the budget to the model rather than guess a number.
  xhigh: undefined,
  max: undefined,
};

/** Joins the text blocks of an assistant turn, the thinking blocks, and a system prompt's blocks. */
const BLOCK_SEPARATOR = "\n\n";
/** The largest `max_tokens` sent upstream (docs/anthropic.md#top-level-fields). */
const MAX_OUTPUT_TOKENS = 65_536;
const TOOL_ERROR_PREFIX = "Error: ";

export function translateRequest(
  body: unknown,
  options: { countOnly?: boolean } = {},
): TranslatedRequest {
  if (!isObject(body)) {
    throw new AnthropicRequestError("The request body must be a JSON object", null);
  }
  const model = body.model;
  if (typeof model !== "string" || model === "") throw mustBe("model", "a non-empty string");
  const countOnly = options.countOnly === true;

  const messages: ChatMessage[] = [];
  const chat: Json = { messages };
  if (body.system !== undefined && body.system !== null) {
    const content = systemContent(body.system, "system");
    if (content !== "") messages.push({ role: "system", content });
  }
  translateMessages(body.messages, messages);
  if (isObject(body.cache_control)) markLastPart(messages, body.cache_control);

  const droppedTools: string[] = [];
  translateTools(body, chat, droppedTools);

  if (!countOnly) {
    const maxTokens = body.max_tokens;
    if (maxTokens === undefined || maxTokens === null) {
      throw new AnthropicRequestError(
        'The field "max_tokens" is required: the most tokens the answer may use',
        "max_tokens",
      );
    }
    if (!Number.isInteger(maxTokens) || (maxTokens as number) < 0) {
      throw mustBe("max_tokens", "a non-negative integer");
    }
    // 0 asks Anthropic to fill its cache without answering; chat APIs need at least 1.
    // Claude Code asks for up to 128,000 tokens, and Alibaba refuses a max_tokens above the
    // model's own limit (65,536 for the coder models): past that, the model's maximum applies.
    if ((maxTokens as number) <= MAX_OUTPUT_TOKENS) {
      chat.max_tokens = maxTokens === 0 ? 1 : maxTokens;
    }
  }
  copyNumber(body, chat, "temperature");
  copyNumber(body, chat, "top_p");
  copyNumber(body, chat, "top_k");
  if (isObject(body.metadata) && typeof body.metadata.user_id === "string") {
    chat.user = body.metadata.user_id;
  }
  translateThinking(body, chat);
  translateOutputFormat(body.output_config, chat);

  const stream = !countOnly && readStream(body.stream);
  if (stream) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  return { model, stream, stopSequences: stopSequences(body.stop_sequences), chat, droppedTools };
}

// ---- messages ----

/** Walks the turns, merging consecutive ones of one role as Anthropic does. */
function translateMessages(list: unknown, out: ChatMessage[]): void {
  if (!Array.isArray(list) || list.length === 0) throw mustBe("messages", "a non-empty array");
  let open: OpenCalls | undefined;
  let openAt = 0;
  let start = 0;
  // Chat upstreams take a system message only at the start (some templates refuse one later),
  // and Claude Code sends its environment as one after the first turn: leading system messages
  // join the system prompt, later ones are read in place as the user's text.
  while (start < list.length && roleOf(list, start) === "system") {
    joinSystemPrompt(out, list, start++);
  }
  while (start < list.length) {
    const role = turnRole(list, start);
    let end = start + 1;
    while (end < list.length && turnRole(list, end) === role) end++;
    if (open !== undefined && role !== "user") throwUnanswered(list, openAt, open);
    if (role === "user") {
      translateUserTurn(list, start, end, open, out);
      if (open !== undefined) checkAnswered(list, openAt, open);
      open = undefined;
    } else {
      open = translateAssistantTurn(list, start, end, out);
      openAt = start;
    }
    start = end;
  }
}

function roleOf(list: unknown[], index: number): string {
  const message = list[index];
  if (!isObject(message)) throw mustBe(`messages.${index}`, "an object with a role and content");
  const role = message.role;
  if (role === "user" || role === "assistant" || role === "system") return role;
  const got = typeof role === "string" ? `, not "${role}"` : "";
  throw mustBe(`messages.${index}.role`, `"user", "assistant" or "system"${got}`);
}

/** A message's content as blocks; a plain string is returned as is. */
function contentOf(list: unknown[], index: number): string | unknown[] {
  const content = (list[index] as Json).content;
  if (typeof content === "string" || Array.isArray(content)) return content;
  throw mustBe(`messages.${index}.content`, "a string or an array of content blocks");
}

/** A content block's `type`, after checking it is an object. */
function blockType(block: unknown, path: () => string): string {
  if (!isObject(block)) throw mustBe(path(), "a content block object");
  const type = block.type;
  if (typeof type !== "string") throw mustBe(`${path()}.type`, "a string");
  return type;
}

/** Blocks that only Anthropic's servers can run or read: dropped from the history. */
function isServerBlock(type: string): boolean {
  return type === "server_tool_use" || type === "mcp_tool_use" || type === "container_upload" ||
    (type !== "tool_result" && type.endsWith("_tool_result"));
}

/** A turn's role for merging: a system message after the first turn counts as the user's. */
function turnRole(list: unknown[], index: number): "user" | "assistant" {
  return roleOf(list, index) === "assistant" ? "assistant" : "user";
}

/** A system message before the first turn, added to the system prompt (the first message). */
function joinSystemPrompt(out: ChatMessage[], list: unknown[], index: number): void {
  const content = systemContent((list[index] as Json).content, `messages.${index}.content`);
  if (content === "") return;
  const first = out[0];
  if (first === undefined || first.role !== "system") {
    out.unshift({ role: "system", content });
  } else if (typeof first.content === "string" && typeof content === "string") {
    first.content = first.content === "" ? content : first.content + BLOCK_SEPARATOR + content;
  } else {
    first.content = [...asParts(first.content), ...asParts(content)];
  }
}

function asParts(content: string | ChatPart[]): ChatPart[] {
  return typeof content === "string" ? [{ type: "text", text: content }] : content;
}

/** A system prompt: a string, or text parts when a block carries a cache marker. */
function systemContent(value: unknown, path: string): string | TextPart[] {
  if (typeof value === "string") return value;
  if (!Array.isArray(value)) throw mustBe(path, "a string or an array of text blocks");
  const parts: TextPart[] = [];
  let marked = false;
  for (let i = 0; i < value.length; i++) {
    const block = value[i];
    if (!isObject(block) || block.type !== "text" || typeof block.text !== "string") {
      throw mustBe(`${path}.${i}`, 'a text block ({"type": "text", "text": "..."})');
    }
    if (block.text === "") continue;
    const part = textPart(block.text, block.cache_control);
    if (part.cache_control !== undefined) marked = true;
    parts.push(part);
  }
  return marked ? parts : joinTexts(parts, BLOCK_SEPARATOR);
}

function translateAssistantTurn(
  list: unknown[],
  start: number,
  end: number,
  out: ChatMessage[],
): OpenCalls | undefined {
  const texts: TextPart[] = [];
  let marked = false;
  let reasoning: string | undefined;
  let toolCalls: ToolCall[] | undefined;
  let open: OpenCalls | undefined;
  for (let m = start; m < end; m++) {
    const content = contentOf(list, m);
    if (typeof content === "string") {
      if (content !== "") texts.push(textPart(content, undefined));
      continue;
    }
    for (let b = 0; b < content.length; b++) {
      const block = content[b] as Json;
      const path = () => `messages.${m}.content.${b}`;
      const type = blockType(block, path);
      switch (type) {
        case "text": {
          const text = stringField(block, "text", path);
          if (text === "") break;
          const part = textPart(text, block.cache_control);
          if (part.cache_control !== undefined) marked = true;
          texts.push(part);
          break;
        }
        case "thinking": {
          // The signature is Anthropic's proof of origin; the upstream wants only the text.
          const thinking = stringField(block, "thinking", path);
          if (thinking === "") break;
          reasoning = reasoning === undefined ? thinking : reasoning + BLOCK_SEPARATOR + thinking;
          break;
        }
        case "redacted_thinking":
          break;
        case "tool_use": {
          const id = nonEmptyString(block, "id", path);
          const name = nonEmptyString(block, "name", path);
          const input = block.input;
          (toolCalls ??= []).push({
            id,
            type: "function",
            function: { name, arguments: input === undefined ? "{}" : JSON.stringify(input) },
          });
          (open ??= new Map()).set(id, false);
          break;
        }
        case "tool_result":
          throw misplaced(type, "a user", path());
        case "image":
        case "document":
        case "search_result":
          throw new AnthropicRequestError(
            `Cannot translate the content block "${path()}": an assistant message cannot hold an "${type}" block`,
            path(),
          );
        default:
          if (!isServerBlock(type)) throw unknownBlock(type, path());
      }
    }
  }
  const message: ChatMessage = {
    role: "assistant",
    content: marked ? texts : joinTexts(texts, BLOCK_SEPARATOR),
  };
  if (reasoning !== undefined) message.reasoning_content = reasoning;
  if (toolCalls !== undefined) message.tool_calls = toolCalls;
  out.push(message);
  return open;
}

/**
 * A user turn: its tool results become tool messages, which must follow the assistant's calls
 * directly; everything else (text, images, and the images of the tool results, which chat
 * APIs refuse in tool messages) goes to one user message after them.
 */
function translateUserTurn(
  list: unknown[],
  start: number,
  end: number,
  open: OpenCalls | undefined,
  out: ChatMessage[],
): void {
  const parts: ChatPart[] = [];
  let answered = 0;
  for (let m = start; m < end; m++) {
    const content = contentOf(list, m);
    if (typeof content === "string") {
      if (content !== "") parts.push(textPart(content, undefined));
      continue;
    }
    for (let b = 0; b < content.length; b++) {
      const block = content[b] as Json;
      const path = () => `messages.${m}.content.${b}`;
      const type = blockType(block, path);
      if (type === "tool_result") {
        out.push(toolMessage(block, open, parts, path));
        answered++;
      } else if (!pushContentPart(type, block, parts, path)) {
        if (type === "tool_use") throw misplaced(type, "an assistant", path());
        // Thinking belongs to assistant turns; in a user turn it has no meaning upstream.
        if (type === "thinking" || type === "redacted_thinking") continue;
        if (!isServerBlock(type)) throw unknownBlock(type, path());
      }
    }
  }
  if (parts.length > 0 || answered === 0) {
    out.push({ role: "user", content: userContent(parts) });
  }
}

/** A single unmarked text is sent as a string, as most chat clients do. */
function userContent(parts: ChatPart[]): string | ChatPart[] {
  if (parts.length === 0) return "";
  const first = parts[0];
  if (parts.length === 1 && first.type === "text" && first.cache_control === undefined) {
    return first.text;
  }
  return parts;
}

function toolMessage(
  block: Json,
  open: OpenCalls | undefined,
  after: ChatPart[],
  path: () => string,
): ChatMessage {
  const id = block.tool_use_id;
  if (typeof id !== "string") throw mustBe(`${path()}.tool_use_id`, "a string");
  const state = open?.get(id);
  if (state !== false) {
    throw new AnthropicRequestError(
      state === true
        ? `Cannot match the tool result "${path()}": tool_use "${id}" already has a result`
        : `Cannot match the tool result "${path()}": the assistant message right before it has no tool_use "${id}"`,
      `${path()}.tool_use_id`,
    );
  }
  open!.set(id, true);

  const texts: TextPart[] = [];
  let images = 0;
  const content = block.content;
  if (typeof content === "string") {
    if (content !== "") texts.push(textPart(content, undefined));
  } else if (Array.isArray(content)) {
    const parts: ChatPart[] = [];
    for (let i = 0; i < content.length; i++) {
      const item = content[i] as Json;
      const itemPath = () => `${path()}.content.${i}`;
      const type = blockType(item, itemPath);
      if (pushContentPart(type, item, parts, itemPath)) continue;
      if (type === "tool_reference") {
        const name = nonEmptyString(item, "tool_name", itemPath);
        parts.push(textPart(`Tool "${name}" is available.`, item.cache_control));
      } else if (type !== "browser_state") {
        // browser_state only answers Anthropic's browser toolset, which is never offered upstream.
        throw unknownBlock(type, itemPath());
      }
    }
    for (const part of parts) {
      if (part.type === "text") {
        texts.push(part);
      } else {
        after.push(part);
        images++;
      }
    }
  } else if (content !== undefined && content !== null) {
    throw mustBe(`${path()}.content`, "a string or an array of content blocks");
  }

  if (block.is_error === true) {
    if (texts.length === 0) texts.push(textPart("", undefined));
    texts[0].text = TOOL_ERROR_PREFIX + texts[0].text;
  }
  if (images > 0) {
    texts.push(textPart(
      images === 1
        ? "(The image is in the next user message.)"
        : `(The ${images} images are in the next user message.)`,
      undefined,
    ));
  }
  if (isObject(block.cache_control) && texts.length === 0) texts.push(textPart("", undefined));
  markLast(texts, 0, block.cache_control);
  let marked = false;
  for (const part of texts) if (part.cache_control !== undefined) marked = true;
  return { role: "tool", tool_call_id: id, content: marked ? texts : joinTexts(texts, "\n") };
}

/**
 * The blocks a user turn and a tool result share: text, image, document, search_result.
 * Returns false for any other type, which the caller handles.
 */
function pushContentPart(
  type: string,
  block: Json,
  parts: ChatPart[],
  path: () => string,
): boolean {
  switch (type) {
    case "text": {
      const text = stringField(block, "text", path);
      if (text !== "") parts.push(textPart(text, block.cache_control));
      return true;
    }
    case "image":
      parts.push(imagePart(block, path));
      return true;
    case "document":
      pushDocument(block, parts, path);
      return true;
    case "search_result":
      pushSearchResult(block, parts, path);
      return true;
    default:
      return false;
  }
}

function imagePart(block: Json, path: () => string): ImagePart {
  const source = block.source;
  if (!isObject(source)) throw mustBe(`${path()}.source`, "an image source object");
  let url: string;
  if (source.type === "base64") {
    const mediaType = source.media_type;
    const data = source.data;
    if (typeof mediaType !== "string") throw mustBe(`${path()}.source.media_type`, "a string");
    if (typeof data !== "string") throw mustBe(`${path()}.source.data`, "a string");
    url = "data:" + mediaType + ";base64," + data;
  } else if (source.type === "url") {
    url = nonEmptyString(source, "url", () => `${path()}.source`);
  } else if (source.type === "file") {
    throw filesApi("image", path());
  } else {
    throw mustBe(`${path()}.source.type`, '"base64" or "url"');
  }
  const part: ImagePart = { type: "image_url", image_url: { url } };
  if (isObject(block.cache_control)) part.cache_control = block.cache_control;
  return part;
}

/**
 * A document as text parts: its title and context first (one part), then its text. The cache
 * marker goes on its last part.
 */
function pushDocument(block: Json, parts: ChatPart[], path: () => string): void {
  const source = block.source;
  if (!isObject(source)) throw mustBe(`${path()}.source`, "a document source object");
  const heading = documentHeading(block);
  const first = parts.length;
  switch (source.type) {
    case "text": {
      const data = stringField(source, "data", () => `${path()}.source`);
      parts.push(textPart(heading === "" ? data : heading + BLOCK_SEPARATOR + data, undefined));
      break;
    }
    case "content": {
      if (heading !== "") parts.push(textPart(heading, undefined));
      const content = source.content;
      if (typeof content === "string") {
        if (content !== "") parts.push(textPart(content, undefined));
      } else if (Array.isArray(content)) {
        for (let i = 0; i < content.length; i++) {
          const item = content[i] as Json;
          const itemPath = () => `${path()}.source.content.${i}`;
          const type = blockType(item, itemPath);
          if (type === "text") {
            const text = stringField(item, "text", itemPath);
            if (text !== "") parts.push(textPart(text, item.cache_control));
          } else if (type === "image") {
            parts.push(imagePart(item, itemPath));
          } else {
            throw mustBe(`${itemPath()}.type`, '"text" or "image"');
          }
        }
      } else {
        throw mustBe(`${path()}.source.content`, "a string or an array of text and image blocks");
      }
      break;
    }
    case "base64":
    case "url":
      throw new AnthropicRequestError(
        `Cannot send the document "${path()}": the upstream cannot read PDFs; extract the text and send it as a text block or as a document with a "text" source`,
        `${path()}.source`,
      );
    case "file":
      throw filesApi("document", path());
    default:
      throw mustBe(`${path()}.source.type`, '"text" or "content" (PDFs cannot be read upstream)');
  }
  markLast(parts, first, block.cache_control);
}

function documentHeading(block: Json): string {
  const title = typeof block.title === "string" ? block.title : "";
  const context = typeof block.context === "string" ? block.context : "";
  if (title === "") return context;
  return context === "" ? `Document: ${title}` : `Document: ${title}\n${context}`;
}

/** A search result as text: its title and source, then its text blocks. */
function pushSearchResult(block: Json, parts: ChatPart[], path: () => string): void {
  const title = typeof block.title === "string" ? block.title : "";
  const source = typeof block.source === "string" ? block.source : "";
  const content = block.content;
  if (!Array.isArray(content)) throw mustBe(`${path()}.content`, "an array of text blocks");
  const first = parts.length;
  parts.push(textPart(`Search result: ${title}\nSource: ${source}`, undefined));
  for (let i = 0; i < content.length; i++) {
    const item = content[i];
    if (!isObject(item) || item.type !== "text" || typeof item.text !== "string") {
      throw mustBe(`${path()}.content.${i}`, "a text block");
    }
    if (item.text !== "") parts.push(textPart(item.text, item.cache_control));
  }
  markLast(parts, first, block.cache_control);
}

/** Puts a block's cache marker on the last part it produced, unless that part has its own. */
function markLast(parts: ChatPart[], first: number, marker: unknown): void {
  if (!isObject(marker) || parts.length === first) return;
  const last = parts[parts.length - 1];
  if (last.cache_control === undefined) last.cache_control = marker;
}

/** The request-level `cache_control`: Anthropic puts it on the last block of the request. */
function markLastPart(messages: ChatMessage[], marker: Json): void {
  const last = messages[messages.length - 1];
  if (last.content === "") return;
  if (typeof last.content === "string") {
    last.content = [textPart(last.content, marker)];
    return;
  }
  const part = last.content[last.content.length - 1];
  if (part.cache_control === undefined) part.cache_control = marker;
}

function checkAnswered(list: unknown[], assistantAt: number, open: OpenCalls): void {
  for (const answered of open.values()) {
    if (!answered) throwUnanswered(list, assistantAt, open);
  }
}

/** Names the first tool_use without a result, by its path. */
function throwUnanswered(list: unknown[], assistantAt: number, open: OpenCalls): never {
  for (let m = assistantAt; m < list.length; m++) {
    const content = (list[m] as Json).content;
    if (!Array.isArray(content)) continue;
    for (let b = 0; b < content.length; b++) {
      const block = content[b] as Json;
      if (block.type === "tool_use" && open.get(block.id as string) === false) {
        throw new AnthropicRequestError(
          `Cannot find the result of tool_use "${block.id}": the next message must be a user message with a tool_result for each tool_use`,
          `messages.${m}.content.${b}`,
        );
      }
    }
  }
  throw new AnthropicRequestError("Cannot find the result of a tool_use", null);
}

// ---- tools ----

function translateTools(body: Json, chat: Json, dropped: string[]): void {
  const list = body.tools;
  const tools: Json[] = [];
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) throw mustBe("tools", "an array of tools");
    for (let i = 0; i < list.length; i++) {
      const tool = list[i];
      if (!isObject(tool)) throw mustBe(`tools.${i}`, "a tool object");
      const type = tool.type;
      if (type === undefined || type === null || type === "custom") {
        tools.push(functionTool(tool, i));
      } else if (typeof type === "string") {
        if (!dropped.includes(type)) dropped.push(type);
      } else {
        throw mustBe(`tools.${i}.type`, "a string");
      }
    }
  }
  const choice = body.tool_choice;
  if (choice === undefined || choice === null) {
    if (tools.length > 0) chat.tools = tools;
    return;
  }
  if (!isObject(choice)) throw mustBe("tool_choice", "an object");
  let toolChoice: unknown;
  switch (choice.type) {
    case "auto":
      toolChoice = "auto";
      break;
    case "any":
      toolChoice = "required";
      break;
    case "none":
      toolChoice = "none";
      break;
    case "tool": {
      const name = nonEmptyString(choice, "name", () => "tool_choice");
      if (!tools.some((tool) => (tool.function as Json).name === name)) {
        throw new AnthropicRequestError(
          `Cannot force the tool "${name}": no custom tool has this name (server tools are not sent upstream)`,
          "tool_choice.name",
        );
      }
      toolChoice = { type: "function", function: { name } };
      break;
    }
    default:
      throw mustBe("tool_choice.type", '"auto", "any", "tool" or "none"');
  }
  if (tools.length === 0) return;
  chat.tools = tools;
  chat.tool_choice = toolChoice;
  if (choice.disable_parallel_tool_use === true && choice.type !== "none") {
    chat.parallel_tool_calls = false;
  }
}

function functionTool(tool: Json, index: number): Json {
  const name = nonEmptyString(tool, "name", () => `tools.${index}`);
  const schema = tool.input_schema;
  if (!isObject(schema)) throw mustBe(`tools.${index}.input_schema`, "a JSON schema object");
  const fn: Json = { name };
  if (typeof tool.description === "string") fn.description = tool.description;
  fn.parameters = schema;
  return { type: "function", function: fn };
}

// ---- parameters ----

function translateThinking(body: Json, chat: Json): void {
  const effort = effortOf(body.output_config);
  const thinking = body.thinking;
  if (thinking === undefined || thinking === null) {
    if (effort !== undefined) chat.thinking_budget = effort;
    return;
  }
  if (!isObject(thinking)) throw mustBe("thinking", "an object");
  switch (thinking.type) {
    case "enabled": {
      const budget = thinking.budget_tokens;
      if (!Number.isInteger(budget) || (budget as number) < 1) {
        throw mustBe("thinking.budget_tokens", "a positive integer");
      }
      chat.enable_thinking = true;
      chat.thinking_budget = budget;
      return;
    }
    case "adaptive":
    case "between_tools":
      chat.enable_thinking = true;
      if (effort !== undefined) chat.thinking_budget = effort;
      return;
    case "disabled":
      chat.enable_thinking = false;
      return;
    default:
      throw mustBe("thinking.type", '"enabled", "adaptive", "between_tools" or "disabled"');
  }
}

/** The thinking budget `output_config.effort` asks for; undefined for none or the maximum. */
function effortOf(config: unknown): number | undefined {
  if (!isObject(config)) return undefined;
  const effort = config.effort;
  if (effort === undefined || effort === null) return undefined;
  if (typeof effort !== "string" || !Object.hasOwn(EFFORT_BUDGETS, effort)) {
    throw mustBe("output_config.effort", '"low", "medium", "high", "xhigh" or "max"');
  }
  return EFFORT_BUDGETS[effort];
}

function translateOutputFormat(config: unknown, chat: Json): void {
  if (!isObject(config)) return;
  const format = config.format;
  if (format === undefined || format === null) return;
  if (!isObject(format) || format.type !== "json_schema" || !isObject(format.schema)) {
    throw mustBe("output_config.format", '{"type": "json_schema", "schema": {...}}');
  }
  chat.response_format = {
    type: "json_schema",
    json_schema: { name: "output", schema: format.schema },
  };
}

function copyNumber(body: Json, chat: Json, field: string): void {
  const value = body[field];
  if (value === undefined || value === null) return;
  if (typeof value !== "number" || !Number.isFinite(value)) throw mustBe(field, "a number");
  chat[field] = value;
}

function readStream(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw mustBe("stream", "a boolean");
  return value;
}

function stopSequences(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw mustBe("stop_sequences", "an array of strings");
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== "string") throw mustBe(`stop_sequences.${i}`, "a string");
  }
  return value as string[];
}

// ---- small helpers ----

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function textPart(text: string, marker: unknown): TextPart {
  return isObject(marker) ? { type: "text", text, cache_control: marker } : { type: "text", text };
}

function joinTexts(parts: TextPart[], separator: string): string {
  if (parts.length === 0) return "";
  if (parts.length === 1) return parts[0].text;
  let text = parts[0].text;
  for (let i = 1; i < parts.length; i++) text += separator + parts[i].text;
  return text;
}

function stringField(block: Json, field: string, path: () => string): string {
  const value = block[field];
  if (typeof value !== "string") throw mustBe(`${path()}.${field}`, "a string");
  return value;
}

function nonEmptyString(block: Json, field: string, path: () => string): string {
  const value = block[field];
  if (typeof value !== "string" || value === "") {
    throw mustBe(`${path()}.${field}`, "a non-empty string");
  }
  return value;
}

function mustBe(path: string, what: string): AnthropicRequestError {
  return new AnthropicRequestError(`The field "${path}" must be ${what}`, path);
}

function unknownBlock(type: string, path: string): AnthropicRequestError {
  return new AnthropicRequestError(
    `Cannot translate the content block "${path}": unknown type "${type}"`,
    `${path}.type`,
  );
}

function misplaced(type: string, role: string, path: string): AnthropicRequestError {
  return new AnthropicRequestError(
    `Cannot translate the content block "${path}": a "${type}" block belongs in ${role} message`,
    `${path}.type`,
  );
}

function filesApi(what: string, path: string): AnthropicRequestError {
  return new AnthropicRequestError(
    `Cannot send the ${what} "${path}": files uploaded through Anthropic's Files API cannot reach the upstream; send the ${what} inline instead`,
    `${path}.source`,
  );
}
