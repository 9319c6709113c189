/**
 * The request bodies of the benchmark, generated deterministically (a seeded PRNG, fixed word
 * list), so every run and every machine sends the same bytes:
 *
 * - tiny: one short user message;
 * - agent: what a coding agent sends mid-task, about 50 KB (the official Qwen Code CLI sends
 *   about 44 KB): a long system prompt, six tool definitions with JSON schemas, and a few turns
 *   with a tool call and a file read back as the tool's result.
 *
 * Each comes in three dialects with the same text: a chat completion (`/v1/chat/completions`); an
 * Anthropic Messages request (`/v1/messages`) dressed as Claude Code 2.1 sends one: system
 * blocks with cache markers, tools with an `input_schema`, `tool_use`/`tool_result` blocks,
 * `max_tokens`, adaptive thinking with an effort, `metadata.user_id`; and an OpenAI Responses
 * request (`/v1/responses`) dressed as Codex 0.169 sends one (tests/fixtures/codex/): the system
 * prompt as a developer message, the history as `input` items with `function_call` and
 * `function_call_output`, flat function tools, a reasoning summary, `store: false`, `include`.
 */

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the a to of and in is for that with on as be by this file function code test change " +
  "read write edit run command project user tool result error type value return string " +
  "number object array module import export class method call request response server " +
  "client stream token model message content should must never always when before after " +
  "only each every path line diff patch build check lint format commit branch review " +
  "explain plan step first then next finally small clear safe fast correct minimal"
).split(" ");

function sentence(random: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(random() * WORDS.length)]);
  const text = out.join(" ");
  return `${text[0].toUpperCase()}${text.slice(1)}.`;
}

function paragraph(random: () => number, sentences: number): string {
  const out: string[] = [];
  for (let i = 0; i < sentences; i++) out.push(sentence(random, 8 + Math.floor(random() * 12)));
  return out.join(" ");
}

/** Text of about `bytes` bytes, in paragraphs and bullet lists like a system prompt. */
function prose(random: () => number, bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  let section = 1;
  while (size < bytes) {
    const part = random() < 0.3
      ? `# Section ${section++}\n` +
        Array.from({ length: 4 }, () => `- ${sentence(random, 10)}`).join("\n")
      : paragraph(random, 5);
    parts.push(part);
    size += part.length + 2;
  }
  return parts.join("\n\n");
}

/** Source-like text of about `bytes` bytes, as a `read_file` tool would return. */
function sourceFile(random: () => number, bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  let n = 0;
  while (size < bytes) {
    const name = `${WORDS[Math.floor(random() * WORDS.length)]}${n++}`;
    const block = [
      `export function ${name}(input: string, options: { limit: number }): string {`,
      `  // ${sentence(random, 9)}`,
      `  const value = input.slice(0, options.limit).trim();`,
      `  if (value.length === 0) throw new Error("${sentence(random, 5)}");`,
      `  return \`\${value}:${n}\`;`,
      `}`,
      ``,
    ];
    for (const line of block) {
      lines.push(line);
      size += line.length + 1;
    }
  }
  return lines.join("\n");
}

interface ToolSpec {
  name: string;
  description: string;
  /** Parameter name → its description; all strings, the first one required. */
  params: [string, string][];
}

function toolSpec(random: () => number, name: string, params: string[]): ToolSpec {
  // The draws in this order keep the chat body's bytes what they were before the Anthropic one.
  const described: [string, string][] = params.map((p) => [p, paragraph(random, 2)]);
  return { name, description: paragraph(random, 6), params: described };
}

function toolSchema(tool: ToolSpec) {
  const properties: Record<string, unknown> = {};
  for (const [name, description] of tool.params) properties[name] = { type: "string", description };
  return { type: "object", properties, required: [tool.params[0][0]] };
}

/** The agent conversation's text, shared by both dialects. */
function agentConversation() {
  const random = prng(20260415);
  const tools = [
    toolSpec(random, "read_file", ["path", "offset", "limit"]),
    toolSpec(random, "write_file", ["path", "content"]),
    toolSpec(random, "edit", ["path", "old_string", "new_string"]),
    toolSpec(random, "run_shell_command", ["command", "description", "directory"]),
    toolSpec(random, "glob", ["pattern", "path"]),
    toolSpec(random, "search_file_content", ["pattern", "path", "include"]),
  ];
  return {
    tools,
    system: prose(random, 27_000),
    firstAsk: paragraph(random, 4),
    beforeCall: paragraph(random, 2),
    call: { name: "read_file", input: { path: "src/server/app.ts" } },
    fileRead: sourceFile(random, 14_000),
    afterCall: paragraph(random, 6),
    nextAsk: paragraph(random, 3),
  };
}

const MODEL = "coder-model";
/** What Claude Code asks for; qwen maps `claude-*` to the account's coding model. */
const CLAUDE_MODEL = "claude-sonnet-4-5";

/**
 * A translated request's fields survive only when they have a chat counterpart, so a
 * `/v1/messages` request asks the fake upstream for slow events through `metadata.user_id`, and a
 * `/v1/responses` request through `safety_identifier`: both become the chat body's `user`
 * (scripts/bench/upstream.ts reads it).
 */
export const DELAY_USER_PREFIX = "bench_chunk_delay_ms=";

export function tinyBody(stream: boolean, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    model: MODEL,
    messages: [{ role: "user", content: "Say hello." }],
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    ...extra,
  });
}

export function agentBody(stream: boolean): string {
  const c = agentConversation();
  const tools = c.tools.map((tool) => ({
    type: "function",
    function: { name: tool.name, description: tool.description, parameters: toolSchema(tool) },
  }));
  const messages = [
    { role: "system", content: c.system },
    { role: "user", content: c.firstAsk },
    {
      role: "assistant",
      content: c.beforeCall,
      tool_calls: [{
        id: "call_1",
        type: "function",
        function: { name: c.call.name, arguments: JSON.stringify(c.call.input) },
      }],
    },
    { role: "tool", tool_call_id: "call_1", content: c.fileRead },
    { role: "assistant", content: c.afterCall },
    { role: "user", content: c.nextAsk },
  ];
  return JSON.stringify({
    model: MODEL,
    messages,
    tools,
    temperature: 0.2,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

/** The tiny request as `/v1/messages` takes it; `delayMs` asks the fake for slow events. */
export function tinyMessagesBody(stream: boolean, delayMs?: number): string {
  return JSON.stringify({
    model: CLAUDE_MODEL,
    max_tokens: 1024,
    messages: [{ role: "user", content: "Say hello." }],
    ...(delayMs === undefined ? {} : { metadata: { user_id: `${DELAY_USER_PREFIX}${delayMs}` } }),
    ...(stream ? { stream: true } : {}),
  });
}

/** The agent request with the same text, shaped as Claude Code sends it. */
export function agentMessagesBody(stream: boolean): string {
  const c = agentConversation();
  const ephemeral = { type: "ephemeral" };
  const tools = c.tools.map((tool) => ({
    name: tool.name,
    description: tool.description,
    input_schema: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      ...toolSchema(tool),
      additionalProperties: false,
    },
  }));
  const messages = [
    { role: "user", content: [{ type: "text", text: c.firstAsk }] },
    {
      role: "assistant",
      content: [
        { type: "text", text: c.beforeCall },
        { type: "tool_use", id: "toolu_01", name: c.call.name, input: c.call.input },
      ],
    },
    {
      role: "user",
      content: [{
        type: "tool_result",
        tool_use_id: "toolu_01",
        content: c.fileRead,
        is_error: false,
      }],
    },
    { role: "assistant", content: [{ type: "text", text: c.afterCall }] },
    {
      role: "user",
      content: [{ type: "text", text: c.nextAsk, cache_control: ephemeral }],
    },
  ];
  return JSON.stringify({
    model: CLAUDE_MODEL,
    messages,
    // Claude Code's system prompt: a billing line, a one-line identity, then the long prompt;
    // the last two carry cache markers, so the chat body keeps them as parts.
    system: [
      { type: "text", text: "x-anthropic-billing-header: cc_version=2.1.0; cc_entrypoint=cli;" },
      {
        type: "text",
        text: "You are a coding agent working in the user's terminal.",
        cache_control: ephemeral,
      },
      { type: "text", text: c.system, cache_control: ephemeral },
    ],
    tools,
    metadata: {
      user_id: JSON.stringify({
        device_id: "0".repeat(64),
        account_uuid: "",
        session_id: "00000000-0000-4000-8000-000000000000",
      }),
    },
    max_tokens: 32_000,
    thinking: { type: "adaptive" },
    output_config: { effort: "medium" },
    ...(stream ? { stream: true } : {}),
  });
}

/** What `/v1/responses` requests carry beside their text, as Codex 0.169 sends it. */
const CODEX_SESSION = "00000000-0000-4000-8000-000000000005";

export interface ResponsesBodyOptions {
  /** Whether the server keeps the response (OpenAI's default is true; Codex sends false). */
  store?: boolean;
  /** Asks the fake for slow, stamped events. */
  delayMs?: number;
}

/** The tiny request as `/v1/responses` takes it. */
export function tinyResponsesBody(stream: boolean, options: ResponsesBodyOptions = {}): string {
  return JSON.stringify({
    model: MODEL,
    input: [{
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "Say hello." }],
    }],
    stream,
    store: options.store ?? false,
    ...(options.delayMs === undefined
      ? {}
      : { safety_identifier: `${DELAY_USER_PREFIX}${options.delayMs}` }),
  });
}

/** The agent request with the same text, shaped as Codex sends it. */
export function agentResponsesBody(stream: boolean, options: { store?: boolean } = {}): string {
  const c = agentConversation();
  const tools = c.tools.map((tool) => ({
    type: "function",
    name: tool.name,
    description: tool.description,
    strict: false,
    parameters: { ...toolSchema(tool), additionalProperties: false },
  }));
  const message = (role: string, type: string, text: string, n: number) => ({
    type: "message",
    id: `msg_00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    role,
    content: [{ type, text }],
  });
  const input = [
    message("developer", "input_text", c.system, 1),
    message("user", "input_text", c.firstAsk, 2),
    message("assistant", "output_text", c.beforeCall, 3),
    {
      type: "function_call",
      status: "completed",
      id: "fc_1",
      name: c.call.name,
      arguments: JSON.stringify(c.call.input),
      call_id: "call_1",
    },
    { type: "function_call_output", id: "fco_1", call_id: "call_1", output: c.fileRead },
    message("assistant", "output_text", c.afterCall, 4),
    message("user", "input_text", c.nextAsk, 5),
  ];
  return JSON.stringify({
    model: MODEL,
    stream,
    input,
    tools,
    tool_choice: "auto",
    parallel_tool_calls: true,
    // What Codex sent to a Qwen model in tests/fixtures/codex/: a summary, no effort (so the
    // upstream is not asked to think, and a whole answer is asked whole, as on the chat path).
    reasoning: { summary: "auto" },
    store: options.store ?? false,
    include: ["reasoning.encrypted_content"],
    prompt_cache_key: CODEX_SESSION,
    client_metadata: {
      "x-codex-window-id": `${CODEX_SESSION}:0`,
      session_id: CODEX_SESSION,
      thread_id: CODEX_SESSION,
    },
  });
}
