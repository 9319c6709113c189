/**
 * The requests Claude Code 2.1.328 really sent (recorded on loopback: tests/fixtures/claude-code/,
 * docs/clients.md), translated: what each must become for a chat upstream to take it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { translateRequest } from "../../src/server/anthropic/request.ts";
import { estimateChatTokens } from "../../src/lib/token-estimate.ts";

const fixture = async (name: string) =>
  JSON.parse(
    await readFile(
      fileURLToPath(new URL(`../fixtures/claude-code/${name}`, import.meta.url).href),
      "utf8",
    ),
  );

interface ChatMessage {
  role: string;
  content: unknown;
  tool_calls?: { id: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
  reasoning_content?: string;
}

describe("Claude Code's recorded requests", () => {
  it("turn a tool-offering turn into a chat request an upstream takes", async () => {
    const body = await fixture("messages-tool-turn.json");
    const { model, stream, chat, droppedTools } = translateRequest(body);
    assert.equal(model, body.model);
    assert.equal(stream, true);
    assert.deepEqual(droppedTools, []);
    const messages = chat.messages as ChatMessage[];
    assert.equal(messages[0].role, "system");
    assert.ok(
      messages.slice(1).every((m) => m.role !== "system"),
      "a system message after the first: some chat templates refuse it",
    );
    assert.match(JSON.stringify(messages), /# Environment/, "the environment message was lost");
    const tools = chat.tools as { type: string; function: { name: string; parameters: unknown } }[];
    assert.equal(tools.length, body.tools.length);
    assert.ok(
      tools.every((t) => t.type === "function" && typeof t.function.parameters === "object"),
    );
    assert.ok(tools.some((t) => t.function.name === "Bash"));
    assert.equal("max_tokens" in chat, false, "Claude Code's 128,000 is above Qwen's limit");
    assert.equal(chat.enable_thinking, true);
    for (const field of ["context_management", "output_config", "thinking", "metadata"]) {
      assert.equal(field in chat, false, `"${field}" went upstream`);
    }
  });

  it("put the tool result right after the call, and the thinking back as reasoning", async () => {
    const body = await fixture("messages-tool-result.json");
    const messages = translateRequest(body).chat.messages as ChatMessage[];
    const at = messages.findIndex((m) => m.tool_calls !== undefined);
    assert.ok(at > 0);
    const assistant = messages[at];
    assert.equal(assistant.reasoning_content, "The user wants the marker file.");
    assert.equal(assistant.tool_calls![0].id, "toolu_rec_1");
    assert.deepEqual(JSON.parse(assistant.tool_calls![0].function.arguments), {
      command: "echo qwen-e2e > marker.txt",
      description: "Write marker",
    });
    assert.equal(messages[at + 1].role, "tool");
    assert.equal(messages[at + 1].tool_call_id, "toolu_rec_1");
  });

  it("count a count_tokens request with its tools and system prompt", async () => {
    const body = await fixture("count-tokens.json");
    const { chat } = translateRequest(body, { countOnly: true });
    const withTools = estimateChatTokens(chat);
    const withoutTools = estimateChatTokens({ ...chat, tools: undefined });
    // The tool definitions are most of the request: ~35 KB of JSON schemas and descriptions.
    assert.ok(withoutTools < withTools / 4, `${withoutTools} of ${withTools}`);
    assert.ok(withTools > 5_000 && withTools < 15_000, String(withTools));
  });
});
