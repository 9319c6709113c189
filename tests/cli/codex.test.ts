/**
 * The real Codex CLI through `qwen serve`'s Responses API, end to end: Codex asks, `qwen serve`
 * translates to chat completions for a fake upstream that answers with a streamed call of Codex's
 * shell tool `exec_command`, Codex runs it (it writes a marker file) and sends the result back, and
 * the upstream ends with text. Everything stays on loopback.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCodex } from "../helpers/codex.ts";
import { type ChatBody, type ScriptedChat, startScriptedChat } from "../helpers/scripted-chat.ts";
import { type RunningServe, startServe, stopServe } from "../helpers/serve-process.ts";
import { keyFileJson, type TempHomes, tempHomes } from "../helpers/temp-homes.ts";

const SERVE_KEY = "codex-e2e-serve-key";
const UPSTREAM_KEY = "sk-upstream0000000000e2e";
const CALL_ID = "call_qwen_e2e_1";
const COMMAND = "echo qwen-e2e > marker.txt";
const FINAL_TEXT = "All done: qwen-e2e";

interface ChatMessage {
  role: string;
  tool_call_id?: string;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
}

const messagesOf = (body: ChatBody): ChatMessage[] => body.messages ?? [];
const toolsOf = (body: ChatBody): { type: string; function?: { name: string } }[] =>
  body.tools ?? [];

/**
 * One agent turn: a request that offers tools and carries no tool result yet gets a call of
 * `exec_command` (reasoning first, the arguments in three pieces); one carrying a tool result gets
 * the final text; anything else a short text. A body that is not a chat request (a Responses body
 * forwarded as it is) gets the 404 of an upstream without that API.
 */
function agentTurn(body: ChatBody) {
  if (!Array.isArray(body.messages)) {
    return {
      status: 404,
      body: { error: { message: "Not found", type: "invalid_request_error" } },
    };
  }
  if (messagesOf(body).some((m) => m.role === "tool")) {
    return { text: [FINAL_TEXT.slice(0, 8), FINAL_TEXT.slice(8)], finish: "stop" };
  }
  if (toolsOf(body).length === 0) {
    return { text: ["Hello from the fake upstream."], finish: "stop" };
  }
  const args = JSON.stringify({ cmd: COMMAND });
  const third = Math.ceil(args.length / 3);
  return {
    reasoning: ["The user wants the marker written.", " I will run the command."],
    toolCalls: [{
      id: CALL_ID,
      name: "exec_command",
      args: [0, 1, 2].map((i) => args.slice(i * third, (i + 1) * third)),
    }],
    finish: "tool_calls",
  };
}

describe("Codex through qwen serve", () => {
  let homes: TempHomes;
  let upstream: ScriptedChat;
  let serve: RunningServe | undefined;
  let workDir: string;

  before(async () => {
    homes = await tempHomes();
    upstream = await startScriptedChat(agentTurn);
    const home = await homes.fresh();
    await writeFile(
      join(home, "qwen_key_e2e.json"),
      JSON.stringify(keyFileJson({
        provider: "custom",
        base_url: upstream.baseUrl,
        api_key: UPSTREAM_KEY,
      })),
      { mode: 0o600 },
    );
    serve = await startServe(["--api-key", SERVE_KEY], {
      QWEN_HOME: home,
      QWEN_OAUTH_BASE_URL: "http://127.0.0.1:9",
    });
    workDir = await mkdtemp(join(tmpdir(), "qwen-codex-work-"));
  });

  after(async () => {
    await stopServe(serve);
    await upstream?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
    await homes?.cleanup();
  });

  it("refuses to point Codex anywhere but loopback", async () => {
    await assert.rejects(
      runCodex({ baseUrl: "http://192.0.2.1:8080/v1", prompt: "hi", apiKey: SERVE_KEY }),
      /loopback only/,
    );
  });

  it(
    "runs an exec_command call of the upstream and ends with its text",
    { timeout: 120_000 },
    async () => {
      const result = await runCodex({
        baseUrl: `${serve!.url.replace(/\/$/, "")}/v1`,
        apiKey: SERVE_KEY,
        prompt: "Run the command that writes the marker",
        cwd: workDir,
        timeoutMs: 100_000,
      });
      const context = `stdout: ${result.stdout}\nstderr: ${result.stderr}\nserve: ${
        serve!.stderr()
      }`;
      assert.deepEqual(result.strayRequests, [], context);
      const notChat = upstream.requests.filter((body) => !Array.isArray(body.messages));
      assert.equal(
        notChat.length,
        0,
        `the upstream got bodies that are not chat requests (${
          Object.keys(notChat[0] ?? {}).join(", ")
        }); ${context}`,
      );
      assert.equal(result.code, 0, context);
      assert.equal(await readFile(join(workDir, "marker.txt"), "utf8"), "qwen-e2e\n", context);
      assert.match(result.stdout, /All done/, context);

      const chats = upstream.requests;
      assert.ok(chats.length >= 2, `${chats.length} chat requests; ${context}`);
      for (const chat of chats) {
        // Alibaba's chat API rejects any tool that is not a function: Codex's `web_search`, its
        // `namespace` of sub-agent tools and free-form tools must not reach it as they are.
        for (const tool of toolsOf(chat)) assert.equal(tool.type, "function", JSON.stringify(tool));
        const names = toolsOf(chat).map((t) => t.function?.name);
        assert.ok(!names.includes("web_search"), `tools: ${names.join(", ")}`);
      }
      const first = chats.find((c) => toolsOf(c).some((t) => t.function?.name === "exec_command"));
      assert.ok(first, "a chat request offered exec_command");
      const second = chats.find((c) => messagesOf(c).some((m) => m.role === "tool"));
      assert.ok(second, "a chat request carried the tool result");
      const messages = messagesOf(second);
      const toolAt = messages.findIndex((m) => m.role === "tool");
      assert.equal(messages[toolAt].tool_call_id, CALL_ID);
      const call = messages[toolAt - 1].tool_calls?.[0];
      assert.equal(messages[toolAt - 1].role, "assistant");
      assert.equal(call?.id, CALL_ID);
      assert.equal(call?.function.name, "exec_command");
      assert.equal(JSON.parse(call!.function.arguments).cmd, COMMAND);
    },
  );
});
