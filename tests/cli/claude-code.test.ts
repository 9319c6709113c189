/**
 * The real Claude Code through `qwen serve`'s Messages API, end to end: Claude Code asks, `qwen
 * serve` translates to chat completions for a fake upstream that answers with a streamed call of
 * Claude Code's `Bash` tool, Claude Code runs it (it writes a marker file) and sends the result
 * back, and the upstream ends with text. Everything stays on loopback.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "../../src/runtime/mod.ts";
import { runClaudeCode } from "../helpers/claude-code.ts";
import { type RunningServe, startServe, stopServe } from "../helpers/serve-process.ts";
import { keyFileJson, type TempHomes, tempHomes } from "../helpers/temp-homes.ts";
import { startServer } from "../helpers/with-server.ts";

const SERVE_KEY = "claude-e2e-serve-key";
const UPSTREAM_KEY = "sk-upstream0000000000e2e";
const CALL_ID = "call_qwen_e2e_1";
const COMMAND = "echo qwen-e2e > marker.txt";
const FINAL_TEXT = "All done: qwen-e2e";

interface ChatMessage {
  role: string;
  content?: unknown;
  tool_call_id?: string;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
}

interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: { type: string; function: { name: string } }[];
  stream?: boolean;
}

/**
 * A chat-completions upstream playing one agent turn: a request that offers tools and carries no
 * tool result yet gets a call of `Bash` (reasoning first, the arguments split over several
 * deltas); one carrying a tool result gets the final text. Other requests (none offering tools)
 * get a short text.
 */
class ToolTurnUpstream {
  readonly chats: { authorization: string | null; body: ChatRequest }[] = [];
  readonly others: string[] = [];

  readonly handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname === "/v1/models") {
      return Response.json({
        object: "list",
        data: [{ id: "qwen3-coder-plus", object: "model", created: 1, owned_by: "qwen" }],
      });
    }
    if (url.pathname !== "/v1/chat/completions" || request.method !== "POST") {
      this.others.push(`${request.method} ${url.pathname}`);
      return Response.json({ error: { message: "not found" } }, { status: 404 });
    }
    const body = await request.json() as ChatRequest;
    this.chats.push({ authorization: request.headers.get("authorization"), body });
    const answered = body.messages.some((m) => m.role === "tool");
    const offersTools = (body.tools?.length ?? 0) > 0;
    const deltas = !answered && offersTools ? toolCallDeltas() : textDeltas(
      answered ? FINAL_TEXT : "Hello from the fake upstream.",
    );
    const finish = !answered && offersTools ? "tool_calls" : "stop";
    if (body.stream !== true) return Response.json(completion(body.model, deltas, finish));
    return new Response(sse(body.model, deltas, finish), {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  };
}

type Delta = Record<string, unknown>;

function toolCallDeltas(): Delta[] {
  const args = JSON.stringify({ command: COMMAND, description: "Write the marker file" });
  const third = Math.ceil(args.length / 3);
  return [
    { role: "assistant", reasoning_content: "The user wants the marker written." },
    { reasoning_content: " I will run the command with Bash." },
    {
      tool_calls: [{
        index: 0,
        id: CALL_ID,
        type: "function",
        function: { name: "Bash", arguments: "" },
      }],
    },
    ...[0, 1, 2].map((i) => ({
      tool_calls: [{ index: 0, function: { arguments: args.slice(i * third, (i + 1) * third) } }],
    })),
  ];
}

function textDeltas(text: string): Delta[] {
  const half = Math.ceil(text.length / 2);
  return [{ role: "assistant", content: text.slice(0, half) }, { content: text.slice(half) }];
}

function chunk(model: string, rest: Record<string, unknown>): string {
  const event = { id: "chatcmpl-e2e", object: "chat.completion.chunk", created: 1, model, ...rest };
  return `data: ${JSON.stringify(event)}\n\n`;
}

function sse(model: string, deltas: Delta[], finish: string): string {
  return [
    ...deltas.map((delta) => chunk(model, { choices: [{ index: 0, delta, finish_reason: null }] })),
    chunk(model, { choices: [{ index: 0, delta: {}, finish_reason: finish }] }),
    chunk(model, {
      choices: [],
      usage: { prompt_tokens: 1200, completion_tokens: 40, total_tokens: 1240 },
    }),
    "data: [DONE]\n\n",
  ].join("");
}

/** The same answer as one JSON object, for a client that does not stream. */
function completion(model: string, deltas: Delta[], finish: string) {
  const text = deltas.map((d) => d.content ?? "").join("");
  const call = finish === "tool_calls"
    ? [{
      id: CALL_ID,
      type: "function",
      function: {
        name: "Bash",
        arguments: JSON.stringify({ command: COMMAND, description: "Write the marker file" }),
      },
    }]
    : undefined;
  return {
    id: "chatcmpl-e2e",
    object: "chat.completion",
    created: 1,
    model,
    choices: [{
      index: 0,
      message: { role: "assistant", content: call ? null : text, tool_calls: call },
      finish_reason: finish,
    }],
    usage: { prompt_tokens: 1200, completion_tokens: 40, total_tokens: 1240 },
  };
}

describe("Claude Code through qwen serve", () => {
  let homes: TempHomes;
  let upstream: ToolTurnUpstream;
  let upstreamServer: Server;
  let serve: RunningServe | undefined;
  let workDir: string;

  before(async () => {
    homes = await tempHomes();
    upstream = new ToolTurnUpstream();
    upstreamServer = await startServer(upstream.handler);
    const home = await homes.fresh();
    await writeFile(
      join(home, "qwen_key_e2e.json"),
      JSON.stringify(keyFileJson({
        provider: "custom",
        base_url: `${upstreamServer.url}/v1`,
        api_key: UPSTREAM_KEY,
      })),
      { mode: 0o600 },
    );
    serve = await startServe(["--api-key", SERVE_KEY], {
      QWEN_HOME: home,
      QWEN_OAUTH_BASE_URL: "http://127.0.0.1:9",
    });
    workDir = await mkdtemp(join(tmpdir(), "qwen-claude-work-"));
  });

  after(async () => {
    await stopServe(serve);
    await upstreamServer?.close(true);
    if (workDir) await rm(workDir, { recursive: true, force: true });
    await homes?.cleanup();
  });

  it("refuses to point Claude Code anywhere but loopback", async () => {
    await assert.rejects(
      runClaudeCode({ baseUrl: "http://192.0.2.1:8080", prompt: "hi", apiKey: SERVE_KEY }),
      /loopback only/,
    );
  });

  it(
    "runs a Bash tool call of the upstream and ends with its text",
    { timeout: 120_000 },
    async () => {
      const result = await runClaudeCode({
        baseUrl: serve!.url,
        apiKey: SERVE_KEY,
        prompt: "Run the command that writes the marker",
        args: ["--allowedTools", "Bash"],
        cwd: workDir,
        timeoutMs: 100_000,
      });
      const context = `stdout: ${result.stdout}\nstderr: ${result.stderr}\nserve: ${
        serve!.stderr()
      }`;
      assert.equal(result.code, 0, context);
      assert.equal(await readFile(join(workDir, "marker.txt"), "utf8"), "qwen-e2e\n", context);
      assert.match(result.stdout, /All done/, context);

      const chats = upstream.chats;
      assert.ok(chats.length >= 2, `${chats.length} chat requests; ${context}`);
      for (const chat of chats) {
        assert.equal(chat.authorization, `Bearer ${UPSTREAM_KEY}`);
        // Which name is the mapping's to choose; a Claude name would be one the upstream lacks.
        assert.equal(typeof chat.body.model, "string");
        assert.ok(chat.body.model.length > 0);
        assert.doesNotMatch(chat.body.model, /^claude-/);
      }
      const first = chats.find((c) => c.body.tools?.some((t) => t.function.name === "Bash"));
      assert.ok(first, "a chat request offered Bash");
      const second = chats.find((c) => c.body.messages.some((m) => m.role === "tool"));
      assert.ok(second, "a chat request carried the tool result");
      const messages = second.body.messages;
      const toolAt = messages.findIndex((m) => m.role === "tool");
      assert.equal(messages[toolAt].tool_call_id, CALL_ID);
      const call = messages[toolAt - 1].tool_calls?.[0];
      assert.equal(messages[toolAt - 1].role, "assistant");
      assert.equal(call?.id, CALL_ID);
      assert.equal(call?.function.name, "Bash");
      assert.equal(JSON.parse(call!.function.arguments).command, COMMAND);
      assert.deepEqual(upstream.others, []);
    },
  );
});
