import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AnthropicRequestError,
  type TranslatedRequest,
  translateRequest,
} from "../../src/server/anthropic/request.ts";

const EPHEMERAL = { type: "ephemeral" };
const PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

const bashSchema = {
  type: "object",
  properties: {
    command: { type: "string", description: "The command to execute" },
    timeout: { type: "number", description: "Optional timeout in milliseconds (max 600000)" },
    description: { type: "string" },
  },
  required: ["command"],
  additionalProperties: false,
  $schema: "http://json-schema.org/draft-07/schema#",
};
const readSchema = {
  type: "object",
  properties: {
    file_path: { type: "string", description: "The absolute path to the file to read" },
    offset: { type: "number" },
    limit: { type: "number" },
  },
  required: ["file_path"],
  additionalProperties: false,
  $schema: "http://json-schema.org/draft-07/schema#",
};

/** The shape Claude Code sends on the turn after two parallel tool calls. */
function claudeCodeRequest() {
  return {
    model: "claude-opus-5-5",
    max_tokens: 32000,
    stream: true,
    metadata: { user_id: "user_4f1c_account__session_9b2e" },
    system: [
      {
        type: "text",
        text: "You are Claude Code, Anthropic's official CLI for Claude.",
        cache_control: { type: "ephemeral" },
      },
      {
        type: "text",
        text: "You are an interactive CLI tool that helps users with software engineering tasks.",
        cache_control: { type: "ephemeral", ttl: "1h" },
      },
    ],
    tools: [
      { name: "Bash", description: "Executes a given bash command.", input_schema: bashSchema },
      {
        name: "Read",
        description: "Reads a file from the local filesystem.",
        input_schema: readSchema,
        cache_control: EPHEMERAL,
      },
      { type: "web_search_20250305", name: "web_search", max_uses: 5 },
    ],
    thinking: { type: "adaptive" },
    output_config: { effort: "medium" },
    context_management: { edits: [{ type: "clear_thinking_20251015", keep: "all" }] },
    messages: [
      {
        role: "user",
        content: [
          {
            type: "text",
            text: "<system-reminder>\nAs you answer, use the context.\n</system-reminder>",
          },
          { type: "text", text: "Why does the build fail? Look at the screenshot too." },
        ],
      },
      {
        role: "assistant",
        content: [
          {
            type: "thinking",
            thinking: "I should run the build and read the config.",
            signature: "EqQBCkYIBxgCKkB0c2lnbmF0dXJl",
          },
          { type: "text", text: "Let me check both." },
          {
            type: "tool_use",
            id: "toolu_01A",
            name: "Bash",
            input: { command: "npm run build", description: "Run the build" },
          },
          {
            type: "tool_use",
            id: "toolu_01B",
            name: "Read",
            input: { file_path: "/repo/shot.png" },
          },
        ],
      },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: "toolu_01A",
            content: "sh: tsc: command not found",
            is_error: true,
          },
          {
            type: "tool_result",
            tool_use_id: "toolu_01B",
            content: [
              { type: "text", text: "Read image (1x1)" },
              { type: "image", source: { type: "base64", media_type: "image/png", data: PNG } },
            ],
          },
          { type: "text", text: "Here is the error dialog as well:" },
          {
            type: "image",
            source: { type: "url", url: "https://example.com/dialog.png" },
          },
          { type: "text", text: "What now?", cache_control: EPHEMERAL },
        ],
      },
    ],
  };
}

function fails(body: unknown, param: string | null, message?: RegExp, countOnly = false) {
  assert.throws(
    () => translateRequest(body, { countOnly }),
    (error: unknown) => {
      assert.ok(error instanceof AnthropicRequestError, String(error));
      assert.equal(error.param, param, error.message);
      if (message) assert.match(error.message, message);
      return true;
    },
  );
}

/** A valid request with these messages (and any top-level fields). */
function withMessages(messages: unknown[], extra: Record<string, unknown> = {}) {
  return { model: "qwen3-coder-plus", max_tokens: 1024, messages, ...extra };
}

describe("translateRequest", () => {
  it("translates a Claude Code turn after two parallel tool calls", () => {
    const body = claudeCodeRequest();
    const out: TranslatedRequest = translateRequest(body);
    assert.equal(out.model, "claude-opus-5-5");
    assert.equal(out.stream, true);
    assert.deepEqual(out.stopSequences, []);
    assert.deepEqual(out.droppedTools, ["web_search_20250305"]);
    assert.deepEqual(out.chat, {
      messages: [
        {
          role: "system",
          content: [
            {
              type: "text",
              text: "You are Claude Code, Anthropic's official CLI for Claude.",
              cache_control: { type: "ephemeral" },
            },
            {
              type: "text",
              text:
                "You are an interactive CLI tool that helps users with software engineering tasks.",
              cache_control: { type: "ephemeral", ttl: "1h" },
            },
          ],
        },
        {
          role: "user",
          content: [
            {
              type: "text",
              text: "<system-reminder>\nAs you answer, use the context.\n</system-reminder>",
            },
            { type: "text", text: "Why does the build fail? Look at the screenshot too." },
          ],
        },
        {
          role: "assistant",
          content: "Let me check both.",
          reasoning_content: "I should run the build and read the config.",
          tool_calls: [
            {
              id: "toolu_01A",
              type: "function",
              function: {
                name: "Bash",
                arguments: '{"command":"npm run build","description":"Run the build"}',
              },
            },
            {
              id: "toolu_01B",
              type: "function",
              function: { name: "Read", arguments: '{"file_path":"/repo/shot.png"}' },
            },
          ],
        },
        { role: "tool", tool_call_id: "toolu_01A", content: "Error: sh: tsc: command not found" },
        {
          role: "tool",
          tool_call_id: "toolu_01B",
          content: "Read image (1x1)\n(The image is in the next user message.)",
        },
        {
          role: "user",
          content: [
            { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
            { type: "text", text: "Here is the error dialog as well:" },
            { type: "image_url", image_url: { url: "https://example.com/dialog.png" } },
            { type: "text", text: "What now?", cache_control: { type: "ephemeral" } },
          ],
        },
      ],
      tools: [
        {
          type: "function",
          function: {
            name: "Bash",
            description: "Executes a given bash command.",
            parameters: bashSchema,
          },
        },
        {
          type: "function",
          function: {
            name: "Read",
            description: "Reads a file from the local filesystem.",
            parameters: readSchema,
          },
        },
      ],
      max_tokens: 32000,
      user: "user_4f1c_account__session_9b2e",
      enable_thinking: true,
      thinking_budget: 8192,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("reuses the request's schemas and cache markers instead of copying them", () => {
    const body = claudeCodeRequest();
    const chat = translateRequest(body).chat as {
      tools: { function: { parameters: unknown } }[];
      messages: { content: { cache_control?: unknown }[] }[];
    };
    assert.equal(chat.tools[0].function.parameters, body.tools[0].input_schema);
    assert.equal(chat.messages[0].content[0].cache_control, body.system[0].cache_control);
  });

  it("merges consecutive turns of one role", () => {
    const out = translateRequest(withMessages([
      { role: "user", content: "First." },
      { role: "user", content: [{ type: "text", text: "Second." }] },
      { role: "assistant", content: "One." },
      { role: "assistant", content: [{ type: "text", text: "Two." }] },
      { role: "user", content: "Third." },
    ]));
    assert.deepEqual(out.chat.messages, [
      {
        role: "user",
        content: [{ type: "text", text: "First." }, { type: "text", text: "Second." }],
      },
      { role: "assistant", content: "One.\n\nTwo." },
      { role: "user", content: "Third." },
    ]);
  });

  it("sends one plain text as a string and skips empty text blocks", () => {
    const out = translateRequest(withMessages([
      {
        role: "user",
        content: [{ type: "text", text: "" }, { type: "text", text: "Hello" }],
      },
    ], { system: "Be brief." }));
    assert.deepEqual(out.chat.messages, [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hello" },
    ]);
  });

  it("joins system blocks without cache markers into one string", () => {
    const out = translateRequest(withMessages([{ role: "user", content: "Hi" }], {
      system: [{ type: "text", text: "A." }, { type: "text", text: "" }, {
        type: "text",
        text: "B.",
      }],
    }));
    assert.deepEqual(out.chat.messages, [
      { role: "system", content: "A.\n\nB." },
      { role: "user", content: "Hi" },
    ]);
  });

  it("adds leading system messages to the system prompt and reads later ones as user text", () => {
    const out = translateRequest({
      ...withMessages([
        { role: "system", content: "Use metric units." },
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello." },
        { role: "system", content: [{ type: "text", text: "Answer in French now." }] },
        { role: "user", content: "How are you?" },
      ]),
      system: "Be brief.",
    });
    assert.deepEqual(out.chat.messages, [
      { role: "system", content: "Be brief.\n\nUse metric units." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello." },
      {
        role: "user",
        content: [
          { type: "text", text: "Answer in French now." },
          { type: "text", text: "How are you?" },
        ],
      },
    ]);
  });

  it("keeps Claude Code's environment message, sent after the first turn, before the tool call", () => {
    const out = translateRequest(withMessages([
      { role: "user", content: [{ type: "text", text: "Run it" }] },
      { role: "system", content: "# Environment\ncwd: /w" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Bash", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] },
    ]));
    const messages = out.chat.messages as { role: string; content: unknown }[];
    assert.deepEqual(messages.map((m) => m.role), [
      "user",
      "assistant",
      "tool",
    ]);
    assert.deepEqual(messages[0].content, [
      { type: "text", text: "Run it" },
      { type: "text", text: "# Environment\ncwd: /w" },
    ]);
  });

  it("drops redacted thinking and the blocks of server tools, and joins thinking", () => {
    const out = translateRequest(withMessages([
      { role: "user", content: "Search it." },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "First thought.", signature: "c2ln" },
          { type: "redacted_thinking", data: "ZW5jcnlwdGVk" },
          { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: { query: "x" } },
          { type: "web_search_tool_result", tool_use_id: "srvtoolu_1", content: [] },
          { type: "thinking", thinking: "Second thought.", signature: "" },
          { type: "text", text: "Found nothing." },
        ],
      },
      { role: "user", content: "OK." },
    ]));
    assert.deepEqual(out.chat.messages, [
      { role: "user", content: "Search it." },
      {
        role: "assistant",
        content: "Found nothing.",
        reasoning_content: "First thought.\n\nSecond thought.",
      },
      { role: "user", content: "OK." },
    ]);
  });

  it("sends an empty content when an assistant turn holds only tool calls", () => {
    const out = translateRequest(withMessages([
      { role: "user", content: "List files." },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "ls", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1" }] },
    ]));
    assert.deepEqual(out.chat.messages, [
      { role: "user", content: "List files." },
      {
        role: "assistant",
        content: "",
        tool_calls: [{ id: "t1", type: "function", function: { name: "ls", arguments: "{}" } }],
      },
      { role: "tool", tool_call_id: "t1", content: "" },
    ]);
  });

  it("keeps cache markers of tool results on the tool message's parts", () => {
    const out = translateRequest(withMessages([
      { role: "user", content: "Go." },
      {
        role: "assistant",
        content: [
          { type: "tool_use", id: "a", name: "f", input: {} },
          { type: "tool_use", id: "b", name: "f", input: {} },
          { type: "tool_use", id: "c", name: "f", input: {} },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "a", content: "one", cache_control: EPHEMERAL },
          {
            type: "tool_result",
            tool_use_id: "b",
            content: [{ type: "text", text: "two", cache_control: EPHEMERAL }],
          },
          { type: "tool_result", tool_use_id: "c", is_error: true },
        ],
      },
    ]));
    assert.deepEqual((out.chat.messages as unknown[]).slice(2), [
      {
        role: "tool",
        tool_call_id: "a",
        content: [{ type: "text", text: "one", cache_control: EPHEMERAL }],
      },
      {
        role: "tool",
        tool_call_id: "b",
        content: [{ type: "text", text: "two", cache_control: EPHEMERAL }],
      },
      { role: "tool", tool_call_id: "c", content: "Error: " },
    ]);
  });

  it("reads documents with text sources, search results and tool references as text", () => {
    const out = translateRequest(withMessages([
      { role: "user", content: "Use these." },
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "s", name: "search_tools", input: {} }],
      },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: "s",
            content: [
              { type: "tool_reference", tool_name: "deploy" },
              {
                type: "search_result",
                title: "Guide",
                source: "https://example.com/guide",
                content: [{ type: "text", text: "Step one." }],
              },
            ],
          },
          {
            type: "document",
            title: "notes.txt",
            context: "Meeting notes",
            source: { type: "text", media_type: "text/plain", data: "Ship on Friday." },
            cache_control: EPHEMERAL,
          },
          {
            type: "document",
            source: {
              type: "content",
              content: [{ type: "text", text: "Part A" }, {
                type: "image",
                source: { type: "url", url: "https://example.com/a.png" },
              }],
            },
          },
        ],
      },
    ]));
    assert.deepEqual((out.chat.messages as unknown[]).slice(2), [
      {
        role: "tool",
        tool_call_id: "s",
        content:
          'Tool "deploy" is available.\nSearch result: Guide\nSource: https://example.com/guide\nStep one.',
      },
      {
        role: "user",
        content: [
          {
            type: "text",
            text: "Document: notes.txt\nMeeting notes\n\nShip on Friday.",
            cache_control: EPHEMERAL,
          },
          { type: "text", text: "Part A" },
          { type: "image_url", image_url: { url: "https://example.com/a.png" } },
        ],
      },
    ]);
  });

  it("puts a request-level cache marker on the last part", () => {
    const out = translateRequest(withMessages([{ role: "user", content: "Hi" }], {
      cache_control: EPHEMERAL,
    }));
    assert.deepEqual(out.chat.messages, [
      { role: "user", content: [{ type: "text", text: "Hi", cache_control: EPHEMERAL }] },
    ]);
  });

  describe("tools and tool_choice", () => {
    const tools = [
      { name: "get_weather", input_schema: { type: "object", properties: {} } },
      { type: "custom", name: "get_time", description: "Now.", input_schema: { type: "object" } },
      { type: "bash_20250124", name: "bash" },
      { type: "text_editor_20250728", name: "str_replace_based_edit_tool" },
      { type: "web_fetch_20250910", name: "web_fetch" },
      { type: "bash_20250124", name: "bash" },
    ];
    const chatTools = [
      {
        type: "function",
        function: { name: "get_weather", parameters: { type: "object", properties: {} } },
      },
      {
        type: "function",
        function: { name: "get_time", description: "Now.", parameters: { type: "object" } },
      },
    ];
    const ask = (extra: Record<string, unknown>) =>
      translateRequest(withMessages([{ role: "user", content: "Hi" }], { tools, ...extra }));

    it("keeps custom tools and reports each dropped type once", () => {
      const out = ask({});
      assert.deepEqual(out.chat.tools, chatTools);
      assert.equal(out.chat.tool_choice, undefined);
      assert.deepEqual(out.droppedTools, [
        "bash_20250124",
        "text_editor_20250728",
        "web_fetch_20250910",
      ]);
    });

    it("maps each tool_choice", () => {
      const cases: [unknown, unknown, unknown][] = [
        [{ type: "auto" }, "auto", undefined],
        [{ type: "any" }, "required", undefined],
        [{ type: "none" }, "none", undefined],
        [
          { type: "tool", name: "get_time" },
          { type: "function", function: { name: "get_time" } },
          undefined,
        ],
        [{ type: "auto", disable_parallel_tool_use: true }, "auto", false],
        [{ type: "any", disable_parallel_tool_use: true }, "required", false],
        [{ type: "auto", disable_parallel_tool_use: false }, "auto", undefined],
      ];
      for (const [choice, expected, parallel] of cases) {
        const out = ask({ tool_choice: choice });
        assert.deepEqual(out.chat.tool_choice, expected, JSON.stringify(choice));
        assert.equal(out.chat.parallel_tool_calls, parallel, JSON.stringify(choice));
      }
    });

    it("sends neither tools nor tool_choice when every tool was dropped", () => {
      const out = translateRequest(withMessages([{ role: "user", content: "Hi" }], {
        tools: [{ type: "web_search_20260318", name: "web_search" }],
        tool_choice: { type: "any", disable_parallel_tool_use: true },
      }));
      assert.equal("tools" in out.chat, false);
      assert.equal("tool_choice" in out.chat, false);
      assert.equal("parallel_tool_calls" in out.chat, false);
      assert.deepEqual(out.droppedTools, ["web_search_20260318"]);
    });

    it("refuses to force a tool that is not sent upstream", () => {
      fails(
        withMessages([{ role: "user", content: "Hi" }], {
          tools,
          tool_choice: { type: "tool", name: "web_fetch" },
        }),
        "tool_choice.name",
        /"web_fetch"/,
      );
    });
  });

  describe("thinking and effort", () => {
    const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
      ["enabled", { thinking: { type: "enabled", budget_tokens: 5000 } }, {
        enable_thinking: true,
        thinking_budget: 5000,
      }],
      ["enabled beats effort", {
        thinking: { type: "enabled", budget_tokens: 5000 },
        output_config: { effort: "low" },
      }, { enable_thinking: true, thinking_budget: 5000 }],
      ["adaptive", { thinking: { type: "adaptive" } }, { enable_thinking: true }],
      ["adaptive, low", { thinking: { type: "adaptive" }, output_config: { effort: "low" } }, {
        enable_thinking: true,
        thinking_budget: 2048,
      }],
      ["adaptive, high", { thinking: { type: "adaptive" }, output_config: { effort: "high" } }, {
        enable_thinking: true,
        thinking_budget: 32768,
      }],
      ["adaptive, xhigh", { thinking: { type: "adaptive" }, output_config: { effort: "xhigh" } }, {
        enable_thinking: true,
      }],
      ["adaptive, max", { thinking: { type: "adaptive" }, output_config: { effort: "max" } }, {
        enable_thinking: true,
      }],
      ["between tools", { thinking: { type: "between_tools" } }, { enable_thinking: true }],
      ["disabled ignores effort", {
        thinking: { type: "disabled" },
        output_config: { effort: "high" },
      }, { enable_thinking: false }],
      ["effort alone", { output_config: { effort: "medium" } }, { thinking_budget: 8192 }],
      ["effort max alone", { output_config: { effort: "max" } }, {}],
      ["nothing", {}, {}],
    ];
    for (const [name, extra, expected] of cases) {
      it(name, () => {
        const chat = translateRequest(withMessages([{ role: "user", content: "Hi" }], extra)).chat;
        assert.deepEqual(
          { enable_thinking: chat.enable_thinking, thinking_budget: chat.thinking_budget },
          { enable_thinking: undefined, thinking_budget: undefined, ...expected },
        );
      });
    }
  });

  it("turns output_config.format into a json_schema response format", () => {
    const schema = { type: "object", properties: { answer: { type: "string" } } };
    const out = translateRequest(withMessages([{ role: "user", content: "Hi" }], {
      output_config: { format: { type: "json_schema", schema } },
    }));
    assert.deepEqual(out.chat.response_format, {
      type: "json_schema",
      json_schema: { name: "output", schema },
    });
  });

  it("copies sampling parameters, keeps stop_sequences out and forwards no unknown field", () => {
    const out = translateRequest(withMessages([{ role: "user", content: "Hi" }], {
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      stop_sequences: ["</answer>", "\n\nHuman:"],
      stream: false,
      container: "container_1",
      mcp_servers: [{ type: "url", url: "https://example.com/mcp", name: "x" }],
      service_tier: "auto",
      speed: "fast",
      inference_geo: "us",
    }));
    assert.equal(out.stream, false);
    assert.deepEqual(out.stopSequences, ["</answer>", "\n\nHuman:"]);
    assert.deepEqual(out.chat, {
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 1024,
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
    });
  });

  it("asks for one token when max_tokens is 0 (Anthropic's cache warm-up)", () => {
    const out = translateRequest(
      withMessages([{ role: "user", content: "Hi" }], { max_tokens: 0 }),
    );
    assert.equal(out.chat.max_tokens, 1);
  });

  it("leaves out a max_tokens above what Qwen models can write, so their maximum applies", () => {
    const ask = (max: number) =>
      translateRequest(withMessages([{ role: "user", content: "Hi" }], { max_tokens: max })).chat;
    assert.equal(ask(65_536).max_tokens, 65_536);
    assert.equal("max_tokens" in ask(128_000), false);
  });

  it("needs no max_tokens and ignores stream when counting tokens", () => {
    const out = translateRequest(
      { model: "claude-sonnet-5", stream: true, messages: [{ role: "user", content: "Hi" }] },
      { countOnly: true },
    );
    assert.equal(out.stream, false);
    assert.deepEqual(out.chat, { messages: [{ role: "user", content: "Hi" }] });
  });

  describe("refuses what the upstream cannot be given, naming the field", () => {
    const user = (content: unknown) => withMessages([{ role: "user", content }]);
    const afterCall = (content: unknown[]) =>
      withMessages([
        { role: "user", content: "Go." },
        { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "f", input: {} }] },
        { role: "user", content },
      ]);
    const cases: [string, unknown, string | null, RegExp?][] = [
      ["a body that is not an object", [], null, /JSON object/],
      ["a missing model", { max_tokens: 1, messages: [] }, "model"],
      ["an empty model", { model: "", max_tokens: 1, messages: [] }, "model"],
      [
        "a missing max_tokens",
        { model: "m", messages: [{ role: "user", content: "Hi" }] },
        "max_tokens",
      ],
      ["a negative max_tokens", { ...user("Hi"), max_tokens: -1 }, "max_tokens"],
      ["missing messages", { model: "m", max_tokens: 1 }, "messages"],
      ["empty messages", withMessages([]), "messages"],
      ["messages that are not an array", { ...user("Hi"), messages: {} }, "messages"],
      ["a message that is not an object", withMessages(["Hi"]), "messages.0"],
      [
        "a role other than user or assistant",
        withMessages([{ role: "user", content: "Hi" }, { role: "tool", content: "x" }]),
        "messages.1.role",
        /"tool"/,
      ],
      ["content of the wrong type", user(42), "messages.0.content"],
      ["a block that is not an object", user(["Hi"]), "messages.0.content.0"],
      ["a block without a type", user([{ text: "Hi" }]), "messages.0.content.0.type"],
      ["a text block without text", user([{ type: "text" }]), "messages.0.content.0.text"],
      [
        "an unknown block type",
        user([{ type: "text", text: "Hi" }, { type: "hologram" }]),
        "messages.0.content.1.type",
        /"hologram"/,
      ],
      [
        "a tool_result that answers no tool_use",
        afterCall([{ type: "tool_result", tool_use_id: "t1" }, {
          type: "tool_result",
          tool_use_id: "t9",
        }]),
        "messages.2.content.1.tool_use_id",
        /"t9"/,
      ],
      [
        "a tool_result with no assistant message before it",
        user([{ type: "tool_result", tool_use_id: "t1", content: "x" }]),
        "messages.0.content.0.tool_use_id",
      ],
      [
        "a tool_result answered twice",
        afterCall([{ type: "tool_result", tool_use_id: "t1" }, {
          type: "tool_result",
          tool_use_id: "t1",
        }]),
        "messages.2.content.1.tool_use_id",
        /already/,
      ],
      [
        "a tool_use left without a result",
        afterCall([{ type: "text", text: "Never mind." }]),
        "messages.1.content.0",
        /"t1"/,
      ],
      [
        "a base64 PDF",
        user([{
          type: "document",
          source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" },
        }]),
        "messages.0.content.0.source",
        /cannot read PDFs; extract the text/,
      ],
      [
        "a PDF by URL inside a tool result",
        afterCall([{
          type: "tool_result",
          tool_use_id: "t1",
          content: [{ type: "document", source: { type: "url", url: "https://x/a.pdf" } }],
        }]),
        "messages.2.content.0.content.0.source",
        /PDFs/,
      ],
      [
        "an image from the Files API",
        user([{ type: "image", source: { type: "file", file_id: "file_1" } }]),
        "messages.0.content.0.source",
        /Files API/,
      ],
      [
        "a tool_use in a user message",
        user([{ type: "tool_use", id: "t", name: "f", input: {} }]),
        "messages.0.content.0.type",
        /assistant message/,
      ],
      [
        "a tool_result in an assistant message",
        withMessages([{ role: "user", content: "Hi" }, {
          role: "assistant",
          content: [{ type: "tool_result", tool_use_id: "t" }],
        }]),
        "messages.1.content.0.type",
        /user message/,
      ],
      [
        "a custom tool without a schema",
        { ...user("Hi"), tools: [{ name: "f" }] },
        "tools.0.input_schema",
      ],
      [
        "an unknown tool_choice",
        { ...user("Hi"), tool_choice: { type: "some" } },
        "tool_choice.type",
      ],
      ["an unknown thinking type", { ...user("Hi"), thinking: { type: "deep" } }, "thinking.type"],
      [
        "a thinking budget that is not a number",
        { ...user("Hi"), thinking: { type: "enabled", budget_tokens: "lots" } },
        "thinking.budget_tokens",
      ],
      [
        "an unknown effort",
        { ...user("Hi"), output_config: { effort: "extreme" } },
        "output_config.effort",
      ],
      [
        "a stop sequence that is not a string",
        { ...user("Hi"), stop_sequences: ["a", 1] },
        "stop_sequences.1",
      ],
      ["a temperature that is not a number", { ...user("Hi"), temperature: "hot" }, "temperature"],
      [
        "a system prompt block that is not text",
        { ...user("Hi"), system: [{ type: "image" }] },
        "system.0",
      ],
    ];
    for (const [name, body, param, message] of cases) {
      it(name, () => fails(body, param, message));
    }

    it("still checks messages when counting tokens", () => {
      fails({ model: "m", messages: [] }, "messages", undefined, true);
    });
  });
});
