/**
 * The requests Codex 0.169.0 really sent (recorded on loopback: tests/fixtures/codex/,
 * docs/clients.md), translated: what each must become for a chat upstream to take it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { translateResponsesRequest } from "../../src/server/openai-responses/request.ts";

const fixture = async (name: string) =>
  JSON.parse(
    await readFile(
      fileURLToPath(new URL(`../fixtures/codex/${name}`, import.meta.url).href),
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
interface ChatTool {
  type: string;
  function: { name: string; parameters: { required?: string[]; properties?: object } };
}

describe("Codex's recorded requests", () => {
  it("turn a tool-offering turn into function tools only, the namespace flattened", async () => {
    const body = await fixture("responses-tool-turn.json");
    const request = translateResponsesRequest(body);
    assert.equal(request.stream, true);
    assert.equal(request.store, false);
    assert.deepEqual(request.droppedTools, ["web_search"]);
    const tools = request.chat.tools as ChatTool[];
    assert.ok(tools.every((t) => t.type === "function"));
    assert.ok(tools.every((t) => /^[a-zA-Z0-9_-]{1,64}$/.test(t.function.name)));
    const names = tools.map((t) => t.function.name);
    assert.ok(names.includes("exec_command"));
    const flattened = names.filter((n) => n.startsWith("multi_agent_v1__"));
    assert.ok(flattened.length > 0, names.join(", "));
    for (const name of flattened) {
      const origin = request.tools.get(name);
      assert.equal(origin?.kind, "function");
      assert.equal((origin as { namespace?: string }).namespace, "multi_agent_v1");
    }
    const messages = request.chat.messages as ChatMessage[];
    assert.equal(messages[0].role, "system", "Codex's developer messages are its system prompt");
    assert.ok(messages.slice(1).every((m) => m.role !== "system"));
  });

  it("put the shell call's output right after it, and the reasoning back", async () => {
    const body = await fixture("responses-tool-result.json");
    const messages = translateResponsesRequest(body).chat.messages as ChatMessage[];
    const at = messages.findIndex((m) => m.tool_calls !== undefined);
    assert.ok(at > 0);
    const call = messages[at].tool_calls![0];
    assert.equal(call.function.name, "exec_command");
    assert.equal(typeof JSON.parse(call.function.arguments).cmd, "string");
    assert.equal(typeof messages[at].reasoning_content, "string");
    assert.equal(messages[at + 1].role, "tool");
    assert.equal(messages[at + 1].tool_call_id, call.id);
  });

  it("turn apply_patch into a function with one string input, its call and output kept", async () => {
    const body = await fixture("responses-apply-patch.json");
    const request = translateResponsesRequest(body);
    assert.deepEqual(request.droppedTools.sort(), ["tool_search", "web_search"]);
    const patch = (request.chat.tools as ChatTool[]).find((t) => t.function.name === "apply_patch");
    assert.ok(patch);
    assert.deepEqual(patch.function.parameters.required, ["input"]);
    assert.deepEqual(request.tools.get("apply_patch"), { kind: "custom", name: "apply_patch" });
    const messages = request.chat.messages as ChatMessage[];
    const at = messages.findIndex((m) => m.tool_calls !== undefined);
    const call = messages[at].tool_calls![0];
    assert.equal(call.function.name, "apply_patch");
    assert.match(JSON.parse(call.function.arguments).input, /\*\*\* Begin Patch/);
    assert.equal(messages[at + 1].tool_call_id, call.id);
  });
});
