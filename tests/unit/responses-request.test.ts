import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ChatMessage,
  prependConversation,
  type TranslatedResponsesRequest,
  translateResponsesRequest,
} from "../../src/server/openai-responses/request.ts";
import { ResponsesRequestError } from "../../src/server/openai-responses/request-checks.ts";
import type { ToolOrigin } from "../../src/server/openai-responses/tools.ts";

const PNG =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
const CHAT_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const execSchema = {
  type: "object",
  properties: {
    cmd: { type: "string", description: "Shell command to execute." },
    workdir: { type: "string", description: "Working directory; the turn's cwd if omitted." },
    yield_time_ms: { type: "number", description: "How long to wait for output." },
  },
  required: ["cmd"],
  additionalProperties: false,
};
const spawnSchema = {
  type: "object",
  properties: { message: { type: "string" }, model: { type: "string" } },
  required: ["message"],
  additionalProperties: false,
};
const closeSchema = {
  type: "object",
  properties: { target: { type: "string", description: "The agent to close." } },
  required: ["target"],
  additionalProperties: false,
};
const PATCH_GRAMMAR = 'start: "*** Begin Patch" LF hunk+ "*** End Patch" LF?\nhunk: /.+/ LF';
const PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n";

/** The shape Codex CLI 0.169 sends (store: false, the whole history, developer messages first). */
function codexRequest(): Record<string, unknown> {
  return {
    model: "gpt-5.3-codex",
    instructions: "You are a coding agent running in a terminal.",
    stream: true,
    store: false,
    include: ["reasoning.encrypted_content"],
    prompt_cache_key: "01a24cb7-9481-7a10-bc1c-beec1ac44209",
    client_metadata: { "x-codex-turn-metadata": "{}" },
    parallel_tool_calls: true,
    tool_choice: "auto",
    reasoning: { effort: "medium", summary: "auto" },
    tools: [
      {
        type: "function",
        name: "exec_command",
        description: "Runs a command in a PTY.",
        strict: false,
        parameters: execSchema,
      },
      {
        type: "custom",
        name: "apply_patch",
        description: "Edits files with a patch. This is a FREEFORM tool.",
        format: { type: "grammar", syntax: "lark", definition: PATCH_GRAMMAR },
      },
      {
        type: "namespace",
        name: "multi_agent_v1",
        description: "Tools for spawning and managing sub-agents.",
        tools: [
          {
            type: "function",
            name: "spawn_agent",
            description: "Spawn a sub-agent.",
            strict: false,
            parameters: spawnSchema,
          },
          {
            type: "function",
            name: "close_agent",
            description: "Close an agent.",
            strict: false,
            parameters: closeSchema,
          },
        ],
      },
      { type: "web_search", external_web_access: true },
    ],
    input: [
      {
        type: "message",
        id: "msg_dev1",
        role: "developer",
        content: [{ type: "input_text", text: "<permissions>danger-full-access</permissions>" }],
      },
      {
        type: "message",
        role: "developer",
        content: [{ type: "input_text", text: "<skills_instructions>none</skills_instructions>" }],
      },
      {
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "<environment_context>cwd</environment_context>" }],
      },
      {
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "Say hi and create hello.txt" }],
      },
      {
        type: "reasoning",
        id: "rs_1",
        summary: [{ type: "summary_text", text: "I will run two commands." }],
        content: null,
        encrypted_content: "gAAAAB_opaque_blob",
      },
      {
        type: "message",
        id: "msg_1",
        status: "completed",
        role: "assistant",
        content: [{ type: "output_text", text: "Running them.", annotations: [] }],
      },
      {
        type: "function_call",
        id: "fc_1",
        status: "completed",
        name: "exec_command",
        arguments: '{"cmd":"echo hi"}',
        call_id: "call_A",
      },
      {
        type: "function_call",
        id: "fc_2",
        status: "completed",
        name: "exec_command",
        arguments: '{"cmd":"ls"}',
        call_id: "call_B",
      },
      {
        type: "function_call_output",
        id: "fco_1",
        call_id: "call_A",
        output: "Process exited with code 0\nOutput:\nhi\n",
      },
      {
        type: "function_call_output",
        call_id: "call_B",
        output: "Process exited with code 0\nOutput:\n",
      },
      {
        type: "reasoning",
        id: "rs_2",
        summary: [],
        encrypted_content: "gAAAAB_more",
      },
      {
        type: "custom_tool_call",
        id: "ctc_1",
        status: "completed",
        call_id: "call_C",
        name: "apply_patch",
        input: PATCH,
      },
      {
        type: "custom_tool_call_output",
        call_id: "call_C",
        output: "Success. Updated the following files:\nA hello.txt\n",
      },
      {
        type: "function_call",
        call_id: "call_D",
        namespace: "multi_agent_v1",
        name: "spawn_agent",
        arguments: '{"message":"review it"}',
      },
      { type: "function_call_output", call_id: "call_D", output: '{"agent_id":"a1"}' },
      {
        type: "message",
        role: "assistant",
        phase: "final_answer",
        content: [{ type: "output_text", text: "Created hello.txt." }],
      },
      { type: "message", role: "user", content: [{ type: "input_text", text: "Thanks!" }] },
    ],
  };
}

function fails(body: unknown, param: string | null, message?: RegExp) {
  assert.throws(
    () => translateResponsesRequest(body),
    (error: unknown) => {
      assert.ok(error instanceof ResponsesRequestError, String(error));
      assert.equal(error.param, param, error.message);
      if (message) assert.match(error.message, message);
      return true;
    },
  );
}

/** A valid request with this input (and any top-level fields). */
function withInput(input: unknown, extra: Record<string, unknown> = {}) {
  return { model: "qwen3-coder-plus", input, ...extra };
}

const fnTool = (name: string) => ({
  type: "function",
  name,
  parameters: { type: "object", properties: {} },
});

describe("translateResponsesRequest", () => {
  it("translates a Codex turn: developer messages, parallel calls, a custom tool, a namespace", () => {
    const out: TranslatedResponsesRequest = translateResponsesRequest(codexRequest());
    assert.equal(out.model, "gpt-5.3-codex");
    assert.equal(out.stream, true);
    assert.equal(out.store, false);
    assert.equal(out.previousResponseId, undefined);
    assert.deepEqual(out.previousCallIds, []);
    assert.deepEqual(out.droppedTools, ["web_search"]);
    assert.deepEqual(out.include, ["reasoning.encrypted_content"]);
    assert.deepEqual(
      out.tools,
      new Map<string, ToolOrigin>([
        ["exec_command", { kind: "function", name: "exec_command" }],
        ["apply_patch", { kind: "custom", name: "apply_patch" }],
        [
          "multi_agent_v1__spawn_agent",
          { kind: "function", name: "spawn_agent", namespace: "multi_agent_v1" },
        ],
        [
          "multi_agent_v1__close_agent",
          { kind: "function", name: "close_agent", namespace: "multi_agent_v1" },
        ],
      ]),
    );
    const input: ChatMessage[] = [
      { role: "system", content: "<permissions>danger-full-access</permissions>" },
      { role: "system", content: "<skills_instructions>none</skills_instructions>" },
      { role: "user", content: "<environment_context>cwd</environment_context>" },
      { role: "user", content: "Say hi and create hello.txt" },
      {
        role: "assistant",
        content: "Running them.",
        reasoning_content: "I will run two commands.",
        tool_calls: [
          {
            id: "call_A",
            type: "function",
            function: { name: "exec_command", arguments: '{"cmd":"echo hi"}' },
          },
          {
            id: "call_B",
            type: "function",
            function: { name: "exec_command", arguments: '{"cmd":"ls"}' },
          },
        ],
      },
      {
        role: "tool",
        tool_call_id: "call_A",
        content: "Process exited with code 0\nOutput:\nhi\n",
      },
      { role: "tool", tool_call_id: "call_B", content: "Process exited with code 0\nOutput:\n" },
      {
        role: "assistant",
        content: "",
        tool_calls: [{
          id: "call_C",
          type: "function",
          function: { name: "apply_patch", arguments: JSON.stringify({ input: PATCH }) },
        }],
      },
      {
        role: "tool",
        tool_call_id: "call_C",
        content: "Success. Updated the following files:\nA hello.txt\n",
      },
      {
        role: "assistant",
        content: "",
        tool_calls: [{
          id: "call_D",
          type: "function",
          function: {
            name: "multi_agent_v1__spawn_agent",
            arguments: '{"message":"review it"}',
          },
        }],
      },
      { role: "tool", tool_call_id: "call_D", content: '{"agent_id":"a1"}' },
      { role: "assistant", content: "Created hello.txt." },
      { role: "user", content: "Thanks!" },
    ];
    assert.deepEqual(out.input, input);
    assert.deepEqual(out.chat, {
      messages: [
        {
          role: "system",
          content: "You are a coding agent running in a terminal.\n\n" +
            "<permissions>danger-full-access</permissions>\n\n" +
            "<skills_instructions>none</skills_instructions>",
        },
        ...input.slice(2),
      ],
      tools: [
        {
          type: "function",
          function: {
            name: "exec_command",
            description: "Runs a command in a PTY.",
            parameters: execSchema,
          },
        },
        {
          type: "function",
          function: {
            name: "apply_patch",
            description: "Edits files with a patch. This is a FREEFORM tool.\n\n" +
              'Put the whole free-form input in the string argument "input".' +
              " It must match this Lark grammar:\n" + PATCH_GRAMMAR,
            parameters: {
              type: "object",
              properties: {
                input: { type: "string", description: "The tool's whole input, as text." },
              },
              required: ["input"],
              additionalProperties: false,
            },
          },
        },
        {
          type: "function",
          function: {
            name: "multi_agent_v1__spawn_agent",
            description: "Tools for spawning and managing sub-agents.\n\nSpawn a sub-agent.",
            parameters: spawnSchema,
          },
        },
        {
          type: "function",
          function: {
            name: "multi_agent_v1__close_agent",
            description: "Tools for spawning and managing sub-agents.\n\nClose an agent.",
            parameters: closeSchema,
          },
        },
      ],
      tool_choice: "auto",
      parallel_tool_calls: true,
      enable_thinking: true,
      thinking_budget: 8192,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("shares the request's schemas and the input's messages instead of copying them", () => {
    const body = codexRequest();
    const out = translateResponsesRequest(body);
    const tools = out.chat.tools as { function: { parameters: unknown } }[];
    assert.equal(tools[0].function.parameters, execSchema);
    assert.equal(tools[2].function.parameters, spawnSchema);
    assert.equal(out.chat.messages[1], out.input[2]);
    assert.equal(out.echo.tools, body.tools);
    assert.equal(out.echo.reasoning, body.reasoning);
  });

  it("reads a string input as one user message, without a system message when none is given", () => {
    const out = translateResponsesRequest(withInput("Hello"));
    assert.deepEqual(out.chat, { messages: [{ role: "user", content: "Hello" }] });
    assert.deepEqual(out.input, [{ role: "user", content: "Hello" }]);
    assert.equal(out.stream, false);
    assert.equal(out.store, true);
  });

  it("reads messages without a type (EasyInputMessage) and keeps images as parts", () => {
    const out = translateResponsesRequest(withInput([
      { role: "system", content: "Be brief." },
      {
        role: "user",
        content: [
          { type: "input_text", text: "What is this?" },
          { type: "input_image", image_url: PNG, detail: "auto" },
          { type: "input_image", image_url: "https://example.com/a.png" },
        ],
      },
      { role: "assistant", content: "A pixel." },
    ], { instructions: "Answer in English." }));
    assert.deepEqual(out.chat.messages, [
      { role: "system", content: "Answer in English.\n\nBe brief." },
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: PNG } },
          { type: "image_url", image_url: { url: "https://example.com/a.png" } },
        ],
      },
      { role: "assistant", content: "A pixel." },
    ]);
  });

  it("reads later system and developer messages as the user's text, in place", () => {
    const out = translateResponsesRequest(withInput([
      { role: "developer", content: "Rule one." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello" },
      { role: "developer", content: [{ type: "input_text", text: "The sandbox changed." }] },
      { role: "system", content: "" },
      { role: "user", content: "Go on" },
    ]));
    assert.deepEqual(out.chat.messages, [
      { role: "system", content: "Rule one." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello" },
      { role: "user", content: "The sandbox changed." },
      { role: "user", content: "Go on" },
    ]);
  });

  it("joins text parts, keeps refusals, and skips empty texts", () => {
    const out = translateResponsesRequest(withInput([
      {
        role: "user",
        content: [{ type: "input_text", text: "" }, { type: "input_text", text: "Only me" }],
      },
      {
        type: "message",
        role: "assistant",
        content: [
          { type: "output_text", text: "Part one." },
          { type: "output_text", text: "Part two." },
        ],
      },
      {
        role: "user",
        content: [{ type: "input_text", text: "A" }, { type: "input_text", text: "B" }],
      },
      { role: "assistant", content: [{ type: "refusal", refusal: "I can't help with that." }] },
      { role: "user", content: [] },
    ]));
    assert.deepEqual(out.chat.messages, [
      { role: "user", content: "Only me" },
      { role: "assistant", content: "Part one.\n\nPart two." },
      { role: "user", content: [{ type: "text", text: "A" }, { type: "text", text: "B" }] },
      { role: "assistant", content: "I can't help with that." },
      { role: "user", content: "" },
    ]);
  });

  describe("reasoning items", () => {
    it("go to the next assistant message, full text before summary, several joined", () => {
      const out = translateResponsesRequest(withInput([
        { role: "user", content: "Hi" },
        {
          type: "reasoning",
          summary: [{ type: "summary_text", text: "Short." }],
          content: [
            { type: "reasoning_text", text: "The long" },
            { type: "reasoning_text", text: "chain." },
          ],
        },
        { type: "reasoning", summary: [{ type: "summary_text", text: "Then this." }] },
        { role: "assistant", content: "Hello" },
      ]));
      assert.deepEqual(out.chat.messages[1], {
        role: "assistant",
        content: "Hello",
        reasoning_content: "The long\n\nchain.\n\nThen this.",
      });
    });

    it("that lead to no assistant message are dropped, and encrypted content alone is nothing", () => {
      const out = translateResponsesRequest(withInput([
        { role: "user", content: "Hi" },
        { type: "reasoning", summary: [{ type: "summary_text", text: "Lost." }] },
        { role: "user", content: "Again" },
        { type: "reasoning", summary: [], encrypted_content: "gAAAA" },
        { role: "assistant", content: "Hello" },
        { type: "reasoning", summary: [{ type: "summary_text", text: "Trailing." }] },
      ]));
      assert.deepEqual(out.chat.messages, [
        { role: "user", content: "Hi" },
        { role: "user", content: "Again" },
        { role: "assistant", content: "Hello" },
      ]);
    });

    it("between an assistant text and its call join that message", () => {
      const out = translateResponsesRequest(withInput([
        { role: "user", content: "Hi" },
        { type: "reasoning", summary: [{ type: "summary_text", text: "First." }] },
        { role: "assistant", content: "Let me look." },
        { type: "reasoning", summary: [{ type: "summary_text", text: "Second." }] },
        { type: "function_call", call_id: "c1", name: "ls", arguments: "{}" },
        { type: "function_call_output", call_id: "c1", output: "a.txt" },
        { type: "reasoning", summary: [{ type: "summary_text", text: "Third." }] },
        { type: "function_call", call_id: "c2", name: "ls", arguments: "{}" },
        { type: "function_call_output", call_id: "c2", output: "b.txt" },
      ]));
      assert.deepEqual(out.chat.messages.slice(1), [
        {
          role: "assistant",
          content: "Let me look.",
          reasoning_content: "First.\n\nSecond.",
          tool_calls: [{ id: "c1", type: "function", function: { name: "ls", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "c1", content: "a.txt" },
        {
          role: "assistant",
          content: "",
          reasoning_content: "Third.",
          tool_calls: [{ id: "c2", type: "function", function: { name: "ls", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "c2", content: "b.txt" },
      ]);
    });
  });

  it("moves the images of tool outputs to a user message after the tool messages", () => {
    const out = translateResponsesRequest(withInput([
      { role: "user", content: "Look at both" },
      { type: "function_call", call_id: "c1", name: "view_image", arguments: '{"path":"a.png"}' },
      { type: "function_call", call_id: "c2", name: "view_image", arguments: '{"path":"b.png"}' },
      {
        type: "function_call_output",
        call_id: "c1",
        output: [
          { type: "input_text", text: "a.png (1x1)" },
          { type: "input_image", image_url: PNG },
        ],
      },
      {
        type: "custom_tool_call_output",
        call_id: "c2",
        output: [
          { type: "input_image", image_url: "https://example.com/b.png" },
          { type: "input_image", image_url: "https://example.com/c.png" },
        ],
      },
      { role: "user", content: "Well?" },
    ]));
    assert.deepEqual(out.chat.messages.slice(2), [
      {
        role: "tool",
        tool_call_id: "c1",
        content: "a.png (1x1)\n(The image is in the next user message.)",
      },
      { role: "tool", tool_call_id: "c2", content: "(The 2 images are in the next user message.)" },
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: PNG } },
          { type: "image_url", image_url: { url: "https://example.com/b.png" } },
          { type: "image_url", image_url: { url: "https://example.com/c.png" } },
        ],
      },
      { role: "user", content: "Well?" },
    ]);
  });

  it("joins the text parts of a tool output with line breaks", () => {
    const out = translateResponsesRequest(withInput([
      { role: "user", content: "Run" },
      { type: "function_call", call_id: "c1", name: "run", arguments: "{}" },
      {
        type: "function_call_output",
        call_id: "c1",
        output: [{ type: "input_text", text: "line 1" }, { type: "input_text", text: "line 2" }],
      },
    ]));
    assert.deepEqual(out.chat.messages[2], {
      role: "tool",
      tool_call_id: "c1",
      content: "line 1\nline 2",
    });
  });

  it("drops the items of built-in tools from the history", () => {
    const out = translateResponsesRequest(withInput([
      { role: "user", content: "Search" },
      { type: "web_search_call", id: "ws_1", status: "completed", action: { type: "search" } },
      { type: "local_shell_call", call_id: "s1", action: { type: "exec", command: ["ls"] } },
      { type: "local_shell_call_output", call_id: "s1", output: "a" },
      { type: "compaction", encrypted_content: "gAAAA" },
      { role: "assistant", content: "Found it." },
    ]));
    assert.deepEqual(out.chat.messages, [
      { role: "user", content: "Search" },
      { role: "assistant", content: "Found it." },
    ]);
  });

  describe("tool names", () => {
    const names = (body: Record<string, unknown>) =>
      (translateResponsesRequest(body).chat.tools as { function: { name: string } }[])
        .map((tool) => tool.function.name);

    it("cut a long namespaced name to 64 characters with a stable hash, in tools and history", () => {
      const namespace = "mcp__a_very_long_server_name_for_the_company_wiki";
      const inner = "search_pages_by_title_and_body";
      const body = withInput([
        { role: "user", content: "Find it" },
        { type: "function_call", call_id: "c1", namespace, name: inner, arguments: "{}" },
        { type: "function_call_output", call_id: "c1", output: "none" },
      ], {
        tools: [{ type: "namespace", name: namespace, description: "", tools: [fnTool(inner)] }],
      });
      const out = translateResponsesRequest(body);
      const [name] = names(body);
      assert.equal(name.length, 64);
      assert.match(name, CHAT_NAME);
      assert.match(name, /^mcp__a_very_long_server_name_for_the_company_wiki__sear_[0-9a-f]{8}$/);
      assert.equal(names(body)[0], name, "the same name on every request");
      assert.deepEqual(out.tools.get(name), { kind: "function", name: inner, namespace });
      const call = out.chat.messages[1] as { tool_calls: { function: { name: string } }[] };
      assert.equal(call.tool_calls[0].function.name, name);
      assert.equal(
        (out.chat.tools as { function: Record<string, unknown> }[])[0].function
          .description,
        undefined,
      );
    });

    it("keep apart long names that share their first 55 characters", () => {
      const stem = "x".repeat(60);
      const [a, b] = names(withInput("Hi", { tools: [fnTool(stem + "_a"), fnTool(stem + "_b")] }));
      assert.notEqual(a, b);
      assert.match(a, CHAT_NAME);
      assert.match(b, CHAT_NAME);
    });

    it("replace the characters chat APIs refuse, and map back", () => {
      const body = withInput("Hi", {
        tools: [fnTool("files.read"), fnTool("ok-name_1"), {
          type: "custom",
          name: "write file",
        }],
      });
      const [dotted, plain, spaced] = names(body);
      assert.match(dotted, /^files_read_[0-9a-f]{8}$/);
      assert.equal(plain, "ok-name_1");
      assert.match(spaced, /^write_file_[0-9a-f]{8}$/);
      const out = translateResponsesRequest(body);
      assert.deepEqual(out.tools.get(dotted), { kind: "function", name: "files.read" });
      assert.deepEqual(out.tools.get(spaced), { kind: "custom", name: "write file" });
    });

    it("map a custom tool inside a namespace, with no format and no description", () => {
      const out = translateResponsesRequest(withInput("Hi", {
        tools: [{ type: "namespace", name: "ed", tools: [{ type: "custom", name: "patch" }] }],
      }));
      assert.deepEqual(out.tools.get("ed__patch"), {
        kind: "custom",
        name: "patch",
        namespace: "ed",
      });
      const tool = (out.chat.tools as { function: Record<string, unknown> }[])[0].function;
      assert.equal(
        tool.description,
        'Put the whole free-form input in the string argument "input".',
      );
    });
  });

  describe("tools and tool_choice", () => {
    const tools = [
      fnTool("exec_command"),
      { type: "custom", name: "apply_patch" },
      { type: "namespace", name: "agents", description: "", tools: [fnTool("spawn")] },
      { type: "file_search", vector_store_ids: ["vs_1"] },
      { type: "web_search_preview" },
      { type: "web_search" },
      { type: "web_search" },
      { type: "mcp", server_label: "wiki" },
      { type: "apply_patch" },
      { type: "shell" },
    ];

    it("drops built-in tools, each type reported once, and copies strict only when true", () => {
      const out = translateResponsesRequest(withInput("Hi", {
        tools: [...tools, { ...fnTool("strict_one"), strict: true }],
      }));
      assert.deepEqual(out.droppedTools, [
        "file_search",
        "web_search_preview",
        "web_search",
        "mcp",
        "apply_patch",
        "shell",
      ]);
      assert.deepEqual([...out.tools.keys()], [
        "exec_command",
        "apply_patch",
        "agents__spawn",
        "strict_one",
      ]);
      const last = (out.chat.tools as { function: Record<string, unknown> }[])[3].function;
      assert.equal(last.strict, true);
    });

    it("gives a function without parameters an empty object schema", () => {
      const out = translateResponsesRequest(withInput("Hi", {
        tools: [{ type: "function", name: "now", parameters: null, strict: null }],
      }));
      assert.deepEqual(out.chat.tools, [{
        type: "function",
        function: { name: "now", parameters: { type: "object", properties: {} } },
      }]);
    });

    const cases: [string, unknown, unknown][] = [
      ["auto", "auto", "auto"],
      ["none", "none", "none"],
      ["required", "required", "required"],
      ["a function", { type: "function", name: "exec_command" }, {
        type: "function",
        function: { name: "exec_command" },
      }],
      ["a custom tool", { type: "custom", name: "apply_patch" }, {
        type: "function",
        function: { name: "apply_patch" },
      }],
      ["a namespaced function by its own name", { type: "function", name: "spawn" }, {
        type: "function",
        function: { name: "agents__spawn" },
      }],
      ["a namespaced function by its chat name", { type: "function", name: "agents__spawn" }, {
        type: "function",
        function: { name: "agents__spawn" },
      }],
      ["allowed tools", {
        type: "allowed_tools",
        mode: "required",
        tools: [{ type: "function", name: "exec_command" }],
      }, "auto"],
      ["a hosted tool", { type: "file_search" }, "auto"],
      ["the built-in apply_patch", { type: "apply_patch" }, "auto"],
    ];
    for (const [name, choice, expected] of cases) {
      it(`maps tool_choice ${name}`, () => {
        const out = translateResponsesRequest(withInput("Hi", { tools, tool_choice: choice }));
        assert.deepEqual(out.chat.tool_choice, expected);
        assert.equal(out.echo.tool_choice, choice);
      });
    }

    it("sends neither tools, tool_choice nor parallel_tool_calls when every tool was dropped", () => {
      const out = translateResponsesRequest(withInput("Hi", {
        tools: [{ type: "web_search" }],
        tool_choice: { type: "function", name: "exec_command" },
        parallel_tool_calls: false,
      }));
      assert.deepEqual(out.chat, { messages: [{ role: "user", content: "Hi" }] });
      assert.deepEqual(out.droppedTools, ["web_search"]);
    });

    it("copies parallel_tool_calls", () => {
      const out = translateResponsesRequest(withInput("Hi", {
        tools,
        parallel_tool_calls: false,
      }));
      assert.equal(out.chat.parallel_tool_calls, false);
      assert.equal(out.chat.tool_choice, undefined);
    });
  });

  describe("reasoning effort", () => {
    const cases: [string, unknown, Record<string, unknown>][] = [
      ["absent", undefined, {}],
      ["without an effort", { summary: "auto" }, {}],
      ["none", { effort: "none" }, { enable_thinking: false }],
      ["minimal", { effort: "minimal" }, { enable_thinking: false }],
      ["low", { effort: "low" }, { enable_thinking: true, thinking_budget: 2048 }],
      ["medium", { effort: "medium" }, { enable_thinking: true, thinking_budget: 8192 }],
      ["high", { effort: "high" }, { enable_thinking: true, thinking_budget: 32768 }],
      ["xhigh", { effort: "xhigh" }, { enable_thinking: true }],
      ["max", { effort: "max" }, { enable_thinking: true }],
    ];
    for (const [name, reasoning, expected] of cases) {
      it(name, () => {
        const { chat } = translateResponsesRequest(withInput("Hi", { reasoning }));
        assert.deepEqual(
          { enable_thinking: chat.enable_thinking, thinking_budget: chat.thinking_budget },
          { enable_thinking: undefined, thinking_budget: undefined, ...expected },
        );
      });
    }
  });

  describe("text.format", () => {
    const schema = { type: "object", properties: { a: { type: "string" } }, required: ["a"] };
    const cases: [string, unknown, unknown][] = [
      ["text", { format: { type: "text" } }, undefined],
      ["verbosity alone", { verbosity: "low" }, undefined],
      ["json_object", { format: { type: "json_object" } }, { type: "json_object" }],
      [
        "json_schema",
        { format: { type: "json_schema", name: "answer", schema, strict: true } },
        { type: "json_schema", json_schema: { name: "answer", schema, strict: true } },
      ],
      [
        "json_schema with a description, without strict",
        { format: { type: "json_schema", name: "answer", schema, description: "The answer." } },
        {
          type: "json_schema",
          json_schema: { name: "answer", schema, description: "The answer." },
        },
      ],
    ];
    for (const [name, text, expected] of cases) {
      it(name, () => {
        const out = translateResponsesRequest(withInput("Hi", { text }));
        assert.deepEqual(out.chat.response_format, expected);
        assert.equal(out.echo.text, text);
      });
    }
  });

  it("copies sampling and limits, and forwards no unknown field", () => {
    const out = translateResponsesRequest(withInput("Hi", {
      max_output_tokens: 4096,
      temperature: 0.2,
      top_p: 0.9,
      user: "user-1",
      safety_identifier: "hashed-user",
      prompt_cache_key: "conv-1",
      service_tier: "flex",
      top_logprobs: 3,
      max_tool_calls: 5,
      truncation: "auto",
      metadata: { run: "7" },
      stream_options: { include_obfuscation: false },
      client_metadata: { a: "b" },
    }));
    assert.deepEqual(out.chat, {
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 4096,
      temperature: 0.2,
      top_p: 0.9,
      user: "user-1",
    });
  });

  it("sends safety_identifier as the user when there is no user", () => {
    const out = translateResponsesRequest(withInput("Hi", { safety_identifier: "hashed-user" }));
    assert.equal(out.chat.user, "hashed-user");
  });

  it("leaves out a max_output_tokens above what Qwen models can write", () => {
    const at = translateResponsesRequest(withInput("Hi", { max_output_tokens: 65536 }));
    assert.equal(at.chat.max_tokens, 65536);
    const above = translateResponsesRequest(withInput("Hi", { max_output_tokens: 128000 }));
    assert.equal(above.chat.max_tokens, undefined);
    assert.equal(above.echo.max_output_tokens, 128000);
  });

  it("echoes OpenAI's defaults for what the client left out", () => {
    const out = translateResponsesRequest(withInput("Hi"));
    assert.deepEqual(out.echo, {
      background: false,
      instructions: null,
      max_output_tokens: null,
      max_tool_calls: null,
      metadata: {},
      parallel_tool_calls: true,
      previous_response_id: null,
      prompt_cache_key: null,
      reasoning: { effort: null, summary: null },
      safety_identifier: null,
      service_tier: "default",
      store: true,
      temperature: 1,
      text: { format: { type: "text" }, verbosity: "medium" },
      tool_choice: "auto",
      tools: [],
      top_logprobs: 0,
      top_p: 1,
      truncation: "disabled",
      user: null,
    });
  });

  it("echoes what the client sent", () => {
    const body = codexRequest();
    const out = translateResponsesRequest({ ...body, temperature: 0.5, metadata: { a: "1" } });
    assert.equal(out.echo.instructions, body.instructions);
    assert.equal(out.echo.store, false);
    assert.equal(out.echo.temperature, 0.5);
    assert.deepEqual(out.echo.metadata, { a: "1" });
    assert.equal(out.echo.prompt_cache_key, body.prompt_cache_key);
    assert.equal(out.echo.parallel_tool_calls, true);
  });

  describe("previous_response_id", () => {
    const stored: ChatMessage[] = [
      { role: "system", content: "Stored rules." },
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: "",
        tool_calls: [
          {
            id: "c1",
            type: "function",
            function: { name: "weather", arguments: '{"city":"Paris"}' },
          },
          { id: "c2", type: "function", function: { name: "time", arguments: "{}" } },
        ],
      },
    ];
    const continued = (input: unknown, extra: Record<string, unknown> = {}) =>
      translateResponsesRequest(withInput(input, { previous_response_id: "resp_1", ...extra }));

    it("accepts outputs that open the input as answers to the previous response's calls", () => {
      const out = continued([
        { type: "function_call_output", call_id: "c1", output: "18°C" },
        { type: "custom_tool_call_output", call_id: "c2", output: "14:00" },
        { role: "developer", content: "Answer in French." },
      ], { instructions: "Be brief.", store: true });
      assert.equal(out.previousResponseId, "resp_1");
      assert.equal(out.store, true);
      assert.deepEqual(out.previousCallIds, ["c1", "c2"]);
      assert.deepEqual(out.input, [
        { role: "tool", tool_call_id: "c1", content: "18°C" },
        { role: "tool", tool_call_id: "c2", content: "14:00" },
        { role: "user", content: "Answer in French." },
      ]);
      assert.equal(out.echo.previous_response_id, "resp_1");

      prependConversation(out, stored);
      assert.deepEqual(out.chat.messages, [
        { role: "system", content: "Be brief.\n\nStored rules." },
        ...stored.slice(1),
        ...out.input,
      ]);
    });

    it("needs no input, and no instructions", () => {
      const out = continued(undefined);
      assert.deepEqual(out.input, []);
      prependConversation(out, stored.slice(0, 2));
      assert.deepEqual(out.chat.messages, stored.slice(0, 2));
    });

    it("refuses outputs that answer no stored call, and stored calls left unanswered", () => {
      const check = (input: unknown[], param: string, message: RegExp) =>
        assert.throws(
          () => prependConversation(continued(input), stored),
          (error: unknown) => {
            assert.ok(error instanceof ResponsesRequestError, String(error));
            assert.equal(error.param, param);
            assert.match(error.message, message);
            return true;
          },
        );
      check(
        [
          { type: "function_call_output", call_id: "c1", output: "x" },
          { type: "function_call_output", call_id: "c9", output: "x" },
        ],
        "input.1.call_id",
        /"c9"/,
      );
      check([{ type: "function_call_output", call_id: "c1", output: "x" }], "input", /"c2"/);
      check([{ role: "user", content: "Never mind" }], "input", /"c1"/);
    });

    it("refuses an output answered twice, and outputs after other items", () => {
      fails(
        {
          ...withInput([
            { type: "function_call_output", call_id: "c1", output: "x" },
            { type: "function_call_output", call_id: "c1", output: "y" },
          ]),
          previous_response_id: "resp_1",
        },
        "input.1.call_id",
        /already/,
      );
      fails(
        {
          ...withInput([
            { role: "user", content: "Hi" },
            { type: "function_call_output", call_id: "c1", output: "x" },
          ]),
          previous_response_id: "resp_1",
        },
        "input.1.call_id",
      );
    });
  });

  describe("refuses what the upstream cannot be given, naming the field", () => {
    const afterCall = (items: unknown[]) =>
      withInput([
        { role: "user", content: "Go" },
        { type: "function_call", call_id: "c1", name: "f", arguments: "{}" },
        ...items,
      ]);
    const cases: [string, unknown, string | null, RegExp?][] = [
      ["a body that is not an object", [], null, /JSON object/],
      ["a missing model", { input: "Hi" }, "model"],
      ["an empty model", { model: "", input: "Hi" }, "model"],
      ["a missing input", { model: "m" }, "input"],
      ["an input of the wrong type", withInput(42), "input"],
      ["an item that is not an object", withInput(["Hi"]), "input.0"],
      ["an item without type or role", withInput([{ content: "Hi" }]), "input.0.type"],
      [
        "an item reference without a type",
        withInput([{ id: "msg_1" }]),
        "input.0",
        /not stored by id/,
      ],
      [
        "an item reference",
        withInput([{ type: "item_reference", id: "msg_1" }]),
        "input.0",
        /item reference/,
      ],
      [
        "an unknown item type",
        withInput([{ type: "hologram" }]),
        "input.0.type",
        /"hologram"/,
      ],
      [
        "an unknown role",
        withInput([{ role: "tool", content: "x" }]),
        "input.0.role",
        /"tool"/,
      ],
      ["content of the wrong type", withInput([{ role: "user", content: 1 }]), "input.0.content"],
      [
        "a part without a type",
        withInput([{ role: "user", content: [{ text: "Hi" }] }]),
        "input.0.content.0.type",
      ],
      [
        "a text part without text",
        withInput([{ role: "user", content: [{ type: "input_text" }] }]),
        "input.0.content.0.text",
      ],
      [
        "an unknown part type",
        withInput([{ role: "user", content: [{ type: "input_audio" }] }]),
        "input.0.content.0.type",
        /"input_audio"/,
      ],
      [
        "a file",
        withInput([{
          role: "user",
          content: [{ type: "input_file", file_data: "JVBERi0=", filename: "a.pdf" }],
        }]),
        "input.0.content.0",
        /cannot read files/,
      ],
      [
        "an image from the Files API",
        withInput([{ role: "user", content: [{ type: "input_image", file_id: "file_1" }] }]),
        "input.0.content.0.file_id",
        /Files API/,
      ],
      [
        "an image without a URL",
        withInput([{ role: "user", content: [{ type: "input_image", detail: "auto" }] }]),
        "input.0.content.0.image_url",
      ],
      [
        "an image in a developer message",
        withInput([{ role: "developer", content: [{ type: "input_image", image_url: PNG }] }]),
        "input.0.content.0.type",
        /only text/,
      ],
      [
        "an image in an assistant message",
        withInput([{ role: "assistant", content: [{ type: "input_image", image_url: PNG }] }]),
        "input.0.content.0.type",
        /assistant/,
      ],
      [
        "a refusal without text",
        withInput([{ role: "assistant", content: [{ type: "refusal" }] }]),
        "input.0.content.0.refusal",
      ],
      [
        "a function_call without call_id",
        withInput([{ type: "function_call", name: "f", arguments: "{}" }]),
        "input.0.call_id",
      ],
      [
        "a function_call without a name",
        withInput([{ type: "function_call", call_id: "c", arguments: "{}" }]),
        "input.0.name",
      ],
      [
        "function_call arguments that are not a string",
        withInput([{ type: "function_call", call_id: "c", name: "f", arguments: {} }]),
        "input.0.arguments",
      ],
      [
        "a custom_tool_call without input",
        withInput([{ type: "custom_tool_call", call_id: "c", name: "f" }]),
        "input.0.input",
      ],
      [
        "a namespace that is not a string",
        withInput([{
          type: "function_call",
          call_id: "c",
          name: "f",
          arguments: "{}",
          namespace: 1,
        }]),
        "input.0.namespace",
      ],
      [
        "two calls of one turn with one call_id",
        afterCall([{ type: "function_call", call_id: "c1", name: "g", arguments: "{}" }]),
        "input.2.call_id",
        /"c1"/,
      ],
      [
        "an orphan output",
        withInput([{ type: "function_call_output", call_id: "c1", output: "x" }]),
        "input.0.call_id",
        /no call with call_id "c1"/,
      ],
      [
        "an output of another call",
        afterCall([{ type: "function_call_output", call_id: "c2", output: "x" }]),
        "input.2.call_id",
        /"c2"/,
      ],
      [
        "an output answered twice",
        afterCall([
          { type: "function_call_output", call_id: "c1", output: "x" },
          { type: "function_call_output", call_id: "c1", output: "y" },
        ]),
        "input.3.call_id",
        /already/,
      ],
      [
        "an output after a message that followed the call",
        withInput([
          { type: "function_call", call_id: "c1", name: "f", arguments: "{}" },
          { type: "function_call", call_id: "c2", name: "f", arguments: "{}" },
          { type: "function_call_output", call_id: "c1", output: "x" },
          { role: "user", content: "Wait" },
          { type: "function_call_output", call_id: "c2", output: "y" },
        ]),
        "input.1",
        /"c2"/,
      ],
      ["a call left without output", afterCall([]), "input.1", /"c1"/],
      [
        "a call left without output before the next call",
        afterCall([
          { type: "function_call_output", call_id: "c1", output: "x" },
          { type: "function_call", call_id: "c2", name: "f", arguments: "{}" },
          { type: "function_call", call_id: "c3", name: "f", arguments: "{}" },
          { type: "function_call_output", call_id: "c3", output: "x" },
          { role: "user", content: "Next" },
        ]),
        "input.3",
        /"c2"/,
      ],
      [
        "an output that is not a string or a list",
        afterCall([{ type: "function_call_output", call_id: "c1", output: { a: 1 } }]),
        "input.2.output",
      ],
      [
        "a file in a tool output",
        afterCall([{
          type: "function_call_output",
          call_id: "c1",
          output: [{ type: "input_file", file_id: "file_1" }],
        }]),
        "input.2.output.0",
        /cannot read files/,
      ],
      [
        "a reasoning summary that is not a list",
        withInput([{ type: "reasoning", summary: "x" }]),
        "input.0.summary",
      ],
      [
        "a reasoning part without text",
        withInput([{ type: "reasoning", summary: [], content: [{ type: "reasoning_text" }] }]),
        "input.0.content.0",
      ],
      ["tools that are not a list", withInput("Hi", { tools: {} }), "tools"],
      ["a tool without a type", withInput("Hi", { tools: [{ name: "f" }] }), "tools.0.type"],
      [
        "a function without a name",
        withInput("Hi", { tools: [{ type: "function", parameters: {} }] }),
        "tools.0.name",
      ],
      [
        "a function whose parameters are not a schema",
        withInput("Hi", { tools: [{ type: "function", name: "f", parameters: "x" }] }),
        "tools.0.parameters",
      ],
      [
        "a custom tool with an unknown format",
        withInput("Hi", { tools: [{ type: "custom", name: "f", format: { type: "xml" } }] }),
        "tools.0.format.type",
      ],
      [
        "a grammar of an unknown syntax",
        withInput("Hi", {
          tools: [{
            type: "custom",
            name: "f",
            format: { type: "grammar", syntax: "ebnf", definition: "x" },
          }],
        }),
        "tools.0.format.syntax",
      ],
      [
        "a namespace without tools",
        withInput("Hi", { tools: [{ type: "namespace", name: "ns" }] }),
        "tools.0.tools",
      ],
      [
        "a namespaced function without a name",
        withInput("Hi", {
          tools: [{ type: "namespace", name: "ns", tools: [{ type: "function" }] }],
        }),
        "tools.0.tools.0.name",
      ],
      [
        "two tools with one name",
        withInput("Hi", { tools: [fnTool("f"), { type: "custom", name: "f" }] }),
        "tools.1.name",
        /function tool "f"/,
      ],
      [
        "a tool whose flattened name is taken",
        withInput("Hi", {
          tools: [fnTool("ns__f"), { type: "namespace", name: "ns", tools: [fnTool("f")] }],
        }),
        "tools.1.tools.0.name",
        /"ns__f"/,
      ],
      ["an unknown tool_choice", withInput("Hi", { tool_choice: "any" }), "tool_choice"],
      [
        "a tool_choice without a type",
        withInput("Hi", { tool_choice: { name: "f" } }),
        "tool_choice.type",
      ],
      [
        "a tool_choice naming no tool",
        withInput("Hi", { tools: [fnTool("f")], tool_choice: { type: "function", name: "g" } }),
        "tool_choice.name",
        /"g"/,
      ],
      [
        "a parallel_tool_calls that is not a boolean",
        withInput("Hi", { tools: [fnTool("f")], parallel_tool_calls: "yes" }),
        "parallel_tool_calls",
      ],
      ["a zero max_output_tokens", withInput("Hi", { max_output_tokens: 0 }), "max_output_tokens"],
      ["a temperature that is a string", withInput("Hi", { temperature: "1" }), "temperature"],
      ["a top_p that is not finite", withInput("Hi", { top_p: Infinity }), "top_p"],
      ["a stream that is not a boolean", withInput("Hi", { stream: "true" }), "stream"],
      ["a store that is not a boolean", withInput("Hi", { store: 1 }), "store"],
      [
        "a previous_response_id that is not a string",
        withInput("Hi", { previous_response_id: 7 }),
        "previous_response_id",
      ],
      ["instructions that are not a string", withInput("Hi", { instructions: [] }), "instructions"],
      ["a user that is not a string", withInput("Hi", { user: 1 }), "user"],
      ["metadata that is not an object", withInput("Hi", { metadata: "x" }), "metadata"],
      [
        "metadata of more than 16 keys",
        withInput("Hi", {
          metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])),
        }),
        "metadata",
        /16/,
      ],
      [
        "a metadata value that is not a string",
        withInput("Hi", { metadata: { a: 1 } }),
        "metadata.a",
      ],
      ["include that is not a list", withInput("Hi", { include: "x" }), "include"],
      ["an include entry that is not a string", withInput("Hi", { include: [1] }), "include.0"],
      ["an unknown truncation", withInput("Hi", { truncation: "middle" }), "truncation"],
      [
        "background",
        withInput("Hi", { background: true }),
        "background",
        /not supported/,
      ],
      [
        "a conversation",
        withInput("Hi", { conversation: "conv_1" }),
        "conversation",
        /previous_response_id/,
      ],
      ["a prompt template", withInput("Hi", { prompt: { id: "pmpt_1" } }), "prompt"],
      ["reasoning that is not an object", withInput("Hi", { reasoning: "high" }), "reasoning"],
      [
        "an unknown effort",
        withInput("Hi", { reasoning: { effort: "ultra" } }),
        "reasoning.effort",
      ],
      ["text that is not an object", withInput("Hi", { text: "json" }), "text"],
      [
        "an unknown text format",
        withInput("Hi", { text: { format: { type: "xml" } } }),
        "text.format.type",
      ],
      [
        "a json_schema format without a name",
        withInput("Hi", { text: { format: { type: "json_schema", schema: {} } } }),
        "text.format.name",
      ],
      [
        "a json_schema format without a schema",
        withInput("Hi", { text: { format: { type: "json_schema", name: "a" } } }),
        "text.format.schema",
      ],
    ];
    for (const [name, body, param, message] of cases) {
      it(name, () => fails(body, param, message));
    }

    it("accepts background: false", () => {
      assert.equal(translateResponsesRequest(withInput("Hi", { background: false })).stream, false);
    });
  });
});
