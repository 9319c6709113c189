/**
 * `/v1/messages` end to end with the official Anthropic SDK: the app served on loopback, a
 * scripted chat upstream behind it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { accountOf } from "../../src/accounts/account.ts";
import { AccountPool } from "../../src/pool/pool.ts";
import { createApp } from "../../src/server/app.ts";
import type { RequestLogEntry } from "../../src/server/log.ts";
import { Metrics } from "../../src/server/metrics.ts";
import type { Server } from "../../src/runtime/mod.ts";
import { assertGrammar, type SseEvent } from "../helpers/anthropic-grammar.ts";
import {
  type ScriptedAnswer,
  type ScriptedChat,
  startScriptedChat,
} from "../helpers/scripted-chat.ts";
import { startServer } from "../helpers/with-server.ts";
import { FakeTokenSource } from "./fake-token-source.ts";

const KEY = "sdk-test-key";

describe("/v1/messages with the Anthropic SDK", () => {
  let upstream: ScriptedChat;
  let server: Server;
  let client: Anthropic;
  const entries: RequestLogEntry[] = [];
  const logLines: string[] = [];
  let next: (body: Record<string, unknown>) => ScriptedAnswer = () => ({
    text: ["hi"],
    finish: "stop",
  });
  const metrics = new Metrics();

  before(async () => {
    upstream = await startScriptedChat((body) => next(body));
    const tokens = new FakeTokenSource({ baseUrl: upstream.baseUrl, kind: "api_key" });
    const pool = new AccountPool({
      strategy: "fill-first",
      entries: [accountOf(tokens, { modelMap: { "claude-sonnet-test": "qwen3-coder-plus" } })],
    });
    const app = createApp({
      pool,
      metrics,
      fetch: (input, init) => fetch(input, init),
      logger: {
        verbose: false,
        request: (entry) => entries.push({ ...entry }),
        info: (line) => logLines.push(line),
      },
      security: {
        apiKeys: [KEY],
        corsOrigins: [],
        allowHosts: [],
        loopback: true,
        port: () => server.port,
      },
      userAgent: "qwen/test",
      retry: { maxRetries: 0 },
    });
    server = await startServer(app);
    client = new Anthropic({ baseURL: server.url, apiKey: KEY, maxRetries: 0 });
  });

  after(async () => {
    await server.close(true);
    await upstream.close();
  });

  it("answers a whole message, naming the model the client asked for", async () => {
    next = () => ({
      text: ["Hello ", "from Qwen"],
      finish: "stop",
      usage: { prompt: 30, completion: 4, cached: 10 },
    });
    const message = await client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 100,
      system: "Be brief.",
      messages: [{ role: "user", content: "Say hello" }],
    });
    assert.equal(message.model, "claude-sonnet-test");
    assert.match(message.id, /^msg_/);
    assert.deepEqual(message.content, [{ type: "text", text: "Hello from Qwen" }]);
    assert.equal(message.stop_reason, "end_turn");
    assert.equal(message.usage.input_tokens, 20);
    assert.equal(message.usage.cache_read_input_tokens, 10);
    assert.equal(message.usage.output_tokens, 4);
    const sent = upstream.requests.at(-1)!;
    assert.equal(sent.model, "qwen3-coder-plus");
    assert.deepEqual(sent.messages[0], { role: "system", content: "Be brief." });
    assert.equal(sent.max_tokens, 100);
    assert.equal(sent.stream, undefined);
    assert.equal(entries.at(-1)!.status, 200);
    assert.equal(entries.at(-1)!.model, "claude-sonnet-test");
  });

  it("streams thinking and text in Anthropic's grammar", async () => {
    next = () => ({ reasoning: ["Think", "ing"], text: ["Str", "eamed"], finish: "stop" });
    const stream = await client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 100,
      stream: true,
      thinking: { type: "enabled", budget_tokens: 2048 },
      messages: [{ role: "user", content: "Stream please" }],
    });
    const events: SseEvent[] = [];
    for await (const event of stream) events.push({ event: event.type, data: event as never });
    assertGrammar(events);
    const sent = upstream.requests.at(-1)!;
    assert.equal(sent.stream, true);
    assert.deepEqual(sent.stream_options, { include_usage: true });

    const final = await client.messages.stream({
      model: "claude-sonnet-test",
      max_tokens: 100,
      messages: [{ role: "user", content: "Stream please" }],
    }).finalMessage();
    assert.deepEqual(final.content.map((b) => b.type), ["thinking", "text"]);
    assert.equal((final.content[1] as Anthropic.TextBlock).text, "Streamed");
  });

  it("runs a tool round trip", async () => {
    const tools: Anthropic.Tool[] = [{
      name: "get_weather",
      description: "Weather of a city",
      input_schema: { type: "object", properties: { city: { type: "string" } } },
    }];
    next = (body) =>
      (body.messages as { role: string }[]).some((m) => m.role === "tool")
        ? { text: ["It is sunny in Paris."], finish: "stop" }
        : {
          reasoning: ["Need weather."],
          toolCalls: [{ id: "call_w1", name: "get_weather", args: ['{"ci', 'ty":"Pa', 'ris"}'] }],
          finish: "tool_calls",
        };
    const question: Anthropic.MessageParam = { role: "user", content: "Weather in Paris?" };
    const first = await client.messages.stream({
      model: "claude-sonnet-test",
      max_tokens: 200,
      tools,
      messages: [question],
    }).finalMessage();
    assert.equal(first.stop_reason, "tool_use");
    const use = first.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
    assert.deepEqual(use.input, { city: "Paris" });
    assert.equal(upstream.requests.at(-1)!.tools[0].function.name, "get_weather");

    const second = await client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 200,
      tools,
      messages: [
        question,
        { role: "assistant", content: first.content },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: use.id, content: "sunny, 24 °C" }],
        },
      ],
    });
    assert.deepEqual(second.content, [{ type: "text", text: "It is sunny in Paris." }]);
    const sent = upstream.requests.at(-1)!;
    const assistant = sent.messages.find((m: { role: string }) => m.role === "assistant");
    assert.equal(assistant.tool_calls[0].id, "call_w1");
    assert.equal(assistant.reasoning_content, "Need weather.");
    const tool = sent.messages.find((m: { role: string }) => m.role === "tool");
    assert.equal(tool.tool_call_id, "call_w1");
    assert.match(JSON.stringify(tool.content), /sunny, 24 °C/);
  });

  it("counts tokens locally", async () => {
    const before = upstream.requests.length;
    const counted = await client.messages.countTokens({
      model: "claude-sonnet-test",
      system: "You are a coding agent.",
      messages: [{ role: "user", content: "Count the tokens of this sentence, please." }],
    });
    assert.ok(counted.input_tokens > 10 && counted.input_tokens < 60, String(counted.input_tokens));
    assert.equal(upstream.requests.length, before, "count_tokens went upstream");
  });

  it("refuses a wrong key, a bad request and passes the upstream's rate limit, in Anthropic's shape", async () => {
    const stranger = new Anthropic({ baseURL: server.url, apiKey: "wrong", maxRetries: 0 });
    await assert.rejects(
      stranger.messages.create({
        model: "claude-sonnet-test",
        max_tokens: 10,
        messages: [{ role: "user", content: "x" }],
      }),
      (error) => error instanceof Anthropic.AuthenticationError && error.status === 401,
    );

    await assert.rejects(
      client.messages.create({
        model: "claude-sonnet-test",
        messages: [{ role: "user", content: "x" }],
      } as unknown as Anthropic.MessageCreateParamsNonStreaming),
      (error) =>
        error instanceof Anthropic.BadRequestError &&
        /max_tokens/.test(error.message) &&
        (error.error as { error: { type: string } }).error.type === "invalid_request_error",
    );

    next = () => ({
      status: 429,
      body: { error: { message: "Requests rate limit exceeded", code: "Throttling.RateQuota" } },
    });
    await assert.rejects(
      client.messages.create({
        model: "claude-sonnet-test",
        max_tokens: 10,
        messages: [{ role: "user", content: "x" }],
      }),
      (error) =>
        error instanceof Anthropic.RateLimitError &&
        (error.error as { error: { type: string; message: string } }).error.type ===
          "rate_limit_error" &&
        /rate limit exceeded/.test(error.message),
    );
  });
});
