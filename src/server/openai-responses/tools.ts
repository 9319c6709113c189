/**
 * The tools of a Responses request as chat functions (docs/responses.md#tools): functions and
 * custom tools, namespaces flattened to `<namespace>__<name>`, built-in tools dropped; each chat
 * name mapped back to its Responses tool (`ToolOrigin`) for the answer; `tool_choice` likewise.
 */
import {
  BLOCK_SEPARATOR,
  isObject,
  type Json,
  mustBe,
  ResponsesRequestError,
} from "./request-checks.ts";

/**
 * How a chat function name the upstream may call maps back to the Responses tool: a function
 * (perhaps inside a namespace) answers as a `function_call`, a custom tool as a
 * `custom_tool_call` whose `input` is the call's `input` argument.
 */
export type ToolOrigin =
  | { kind: "function"; name: string; namespace?: string }
  | { kind: "custom"; name: string; namespace?: string };

/** What chat APIs accept as a function name: `^[a-zA-Z0-9_-]{1,64}$`. */
const MAX_NAME_LENGTH = 64;
/** Between a namespace and the name of one of its tools in the flattened chat name. */
const NAMESPACE_SEPARATOR = "__";

export function translateTools(
  list: unknown,
  origins: Map<string, ToolOrigin>,
  dropped: string[],
): Json[] {
  const tools: Json[] = [];
  if (list === undefined || list === null) return tools;
  if (!Array.isArray(list)) throw mustBe("tools", "an array of tools");
  for (let i = 0; i < list.length; i++) {
    const tool = list[i];
    const type = toolType(tool, `tools.${i}`);
    if (type === "function" || type === "custom") {
      tools.push(chatTool(tool as Json, type, `tools.${i}`, undefined, origins));
    } else if (type === "namespace") {
      pushNamespace(tool as Json, `tools.${i}`, tools, origins, dropped);
    } else if (!dropped.includes(type)) {
      // Built-in tools (web_search, file_search, shell, apply_patch, mcp, ...): no upstream here
      // runs them, and Alibaba refuses a tool whose type is not "function".
      dropped.push(type);
    }
  }
  return tools;
}

function toolType(tool: unknown, path: string): string {
  if (!isObject(tool)) throw mustBe(path, "a tool object");
  const type = tool.type;
  if (typeof type !== "string") throw mustBe(`${path}.type`, "a string");
  return type;
}

/** A namespace's tools, flattened to `<namespace>__<name>`; its description leads theirs. */
function pushNamespace(
  tool: Json,
  path: string,
  tools: Json[],
  origins: Map<string, ToolOrigin>,
  dropped: string[],
): void {
  const namespace = tool.name;
  if (typeof namespace !== "string" || namespace === "") {
    throw mustBe(`${path}.name`, "a non-empty string");
  }
  const inner = tool.tools;
  if (!Array.isArray(inner)) throw mustBe(`${path}.tools`, "an array of tools");
  const about = typeof tool.description === "string" ? tool.description : "";
  for (let j = 0; j < inner.length; j++) {
    const innerPath = `${path}.tools.${j}`;
    const type = toolType(inner[j], innerPath);
    if (type === "function" || type === "custom") {
      const chat = chatTool(inner[j] as Json, type, innerPath, namespace, origins);
      if (about !== "") {
        const fn = chat.function as Json;
        fn.description = typeof fn.description === "string"
          ? about + BLOCK_SEPARATOR + fn.description
          : about;
      }
      tools.push(chat);
    } else if (!dropped.includes(type)) {
      dropped.push(type);
    }
  }
}

function chatTool(
  tool: Json,
  kind: "function" | "custom",
  path: string,
  namespace: string | undefined,
  origins: Map<string, ToolOrigin>,
): Json {
  const name = tool.name;
  if (typeof name !== "string" || name === "") throw mustBe(`${path}.name`, "a non-empty string");
  const chat = chatName(namespace, name);
  const taken = origins.get(chat);
  if (taken !== undefined) {
    throw new ResponsesRequestError(
      `Cannot offer the tool "${path}": its chat name "${chat}" is already the name of ${
        describeOrigin(taken)
      }`,
      `${path}.name`,
    );
  }
  origins.set(chat, namespace === undefined ? { kind, name } : { kind, name, namespace });
  const description = tool.description;
  if (description !== undefined && description !== null && typeof description !== "string") {
    throw mustBe(`${path}.description`, "a string");
  }
  const fn: Json = { name: chat };
  if (kind === "function") {
    if (typeof description === "string") fn.description = description;
    const parameters = tool.parameters;
    if (parameters === undefined || parameters === null) {
      fn.parameters = { type: "object", properties: {} };
    } else if (isObject(parameters)) {
      fn.parameters = parameters;
    } else {
      throw mustBe(`${path}.parameters`, "a JSON schema object");
    }
    // false is the chat default, and the field is sent only where it asks for something.
    if (tool.strict === true) fn.strict = true;
  } else {
    fn.description = customDescription(tool, description as string | undefined, path);
    fn.parameters = {
      type: "object",
      properties: { input: { type: "string", description: "The tool's whole input, as text." } },
      required: ["input"],
      additionalProperties: false,
    };
  }
  return { type: "function", function: fn };
}

/** A custom tool's description, told that its free-form input goes in `input`, and its grammar. */
function customDescription(tool: Json, description: string | undefined, path: string): string {
  let text = description === undefined || description === "" ? "" : description + BLOCK_SEPARATOR;
  text += 'Put the whole free-form input in the string argument "input".';
  const format = tool.format;
  if (format === undefined || format === null) return text;
  if (!isObject(format)) throw mustBe(`${path}.format`, "an object");
  if (format.type === "text") return text;
  if (format.type !== "grammar") throw mustBe(`${path}.format.type`, '"text" or "grammar"');
  const syntax = format.syntax;
  const definition = format.definition;
  if (syntax !== "lark" && syntax !== "regex") {
    throw mustBe(`${path}.format.syntax`, '"lark" or "regex"');
  }
  if (typeof definition !== "string") throw mustBe(`${path}.format.definition`, "a string");
  return text +
    ` It must match this ${syntax === "lark" ? "Lark grammar" : "regular expression"}:\n` +
    definition;
}

function describeOrigin(origin: ToolOrigin): string {
  const name = origin.namespace === undefined ? origin.name : `${origin.namespace}.${origin.name}`;
  return `the ${origin.kind} tool "${name}"`;
}

/**
 * The chat function name of a Responses tool: its name, or `<namespace>__<name>`, as is when chat
 * APIs accept it. Otherwise the characters they refuse become `_` and the name is cut to 55, then
 * `_` and 8 hex digits of a hash of the whole name keep it apart from its neighbours.
 */
export function chatName(namespace: string | undefined, name: string): string {
  const full = namespace === undefined ? name : namespace + NAMESPACE_SEPARATOR + name;
  if (full.length <= MAX_NAME_LENGTH && isChatName(full)) return full;
  const suffix = "_" + hash32(full);
  const keep = Math.min(full.length, MAX_NAME_LENGTH - suffix.length);
  let cut = "";
  for (let i = 0; i < keep; i++) cut += isNameChar(full.charCodeAt(i)) ? full[i] : "_";
  return cut + suffix;
}

function isChatName(name: string): boolean {
  for (let i = 0; i < name.length; i++) if (!isNameChar(name.charCodeAt(i))) return false;
  return name.length > 0;
}

/** `[a-zA-Z0-9_-]` */
function isNameChar(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) ||
    (code >= 48 && code <= 57) || code === 95 || code === 45;
}

/** FNV-1a over the UTF-16 code units, as 8 hex digits: stable across processes and runtimes. */
function hash32(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}

export function translateToolChoice(choice: unknown, origins: Map<string, ToolOrigin>): unknown {
  if (choice === undefined || choice === null) return undefined;
  if (typeof choice === "string") {
    if (choice === "auto" || choice === "none" || choice === "required") return choice;
    throw mustBe("tool_choice", '"auto", "none", "required" or an object');
  }
  if (!isObject(choice)) throw mustBe("tool_choice", '"auto", "none", "required" or an object');
  const type = choice.type;
  if (typeof type !== "string") throw mustBe("tool_choice.type", "a string");
  if (type !== "function" && type !== "custom") {
    // allowed_tools cannot narrow the tools of a chat request, and hosted tools are not sent:
    // the model chooses among the tools it has.
    return "auto";
  }
  const name = choice.name;
  if (typeof name !== "string" || name === "") {
    throw mustBe("tool_choice.name", "a non-empty string");
  }
  const namespace = typeof choice.namespace === "string" ? choice.namespace : undefined;
  const chat = forcedTool(name, namespace, origins);
  if (chat === undefined) {
    if (origins.size === 0) return undefined;
    throw new ResponsesRequestError(
      `Cannot force the tool "${name}": no ${type} tool has this name`,
      "tool_choice.name",
    );
  }
  return { type: "function", function: { name: chat } };
}

/** The chat name of the tool a choice names: top-level first, then the one namespaced tool of that name. */
function forcedTool(
  name: string,
  namespace: string | undefined,
  origins: Map<string, ToolOrigin>,
): string | undefined {
  let inNamespace: string | undefined;
  let matches = 0;
  for (const [chat, origin] of origins) {
    if (origin.name !== name) continue;
    if (origin.namespace === namespace) return chat;
    if (namespace === undefined) {
      inNamespace = chat;
      matches++;
    }
  }
  if (matches === 1) return inNamespace;
  return origins.has(name) ? name : undefined;
}
