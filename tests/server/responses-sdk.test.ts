/**
 * `/v1/responses` end to end with the official `openai` SDK: the app served on loopback, a
 * scripted chat upstream behind it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { accountOf } from "../../src/accounts/account.ts";
import { AccountPool } from "../../src/pool/pool.ts";
import { createApp } from "../../src/server/app.ts";
import type { RequestLogEntry } from "../../src/server/log.ts";
import type { Server } from "../../src/runtime/mod.ts";
import { assertGrammar } from "../helpers/responses-grammar.ts";
import {
  type ScriptedAnswer,
  type ScriptedChat,
  startScriptedChat,
} from "../helpers/scripted-chat.ts";
import { startServer } from "../helpers/with-server.ts";
import { FakeTokenSource } from "./fake-token-source.ts";

const KEY = "responses-sdk-key";

describe("/v1/responses with the openai SDK", () => {
  let upstream: ScriptedChat;
  let server: Server;
  let client: OpenAI;
  const entries: RequestLogEntry[] = [];
  const logLines: string[] = [];
  let next: (body: Record<string, unknown>) => ScriptedAnswer = () => ({
    text: ["hi"],
    finish: "stop",
  });

  before(async () => {
    upstream = await startScriptedChat((body) => next(body));
    const tokens = new FakeTokenSource({ baseUrl: upstream.baseUrl, kind: "api_key" });
    const pool = new AccountPool({
      strategy: "fill-first",
      entries: [accountOf(tokens, { type: "api_key" })],
    });
    const app = createApp({
      pool,
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
      responsesStore: 3,
    });
    server = await startServer(app);
    client = new OpenAI({
      baseURL: `${server.url.replace(/\/$/, "")}/v1`,
      apiKey: KEY,
      maxRetries: 0,
    });
  });

  after(async () => {
    await server.close(true);
    await upstream.close();
  });

  it("answers a whole response and keeps it for GET and DELETE", async () => {
    next = () => ({
      text: ["Hello ", "there"],
      finish: "stop",
      usage: { prompt: 12, completion: 3, cached: 4 },
    });
    const response = await client.responses.create({
      model: "qwen3-coder-plus",
      instructions: "Be brief.",
      input: "Say hello",
      metadata: { run: "1" },
    });
    assert.equal(response.status, "completed");
    assert.equal(response.output_text, "Hello there");
    assert.equal(response.model, "qwen3-coder-plus");
    assert.deepEqual(response.metadata, { run: "1" });
    assert.equal(response.usage?.input_tokens, 12);
    assert.equal(response.usage?.input_tokens_details.cached_tokens, 4);
    assert.equal(response.usage?.output_tokens, 3);
    const sent = upstream.requests.at(-1)!;
    assert.deepEqual(sent.messages, [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Say hello" },
    ]);

    const fetched = await client.responses.retrieve(response.id);
    assert.equal(fetched.id, response.id);
    assert.equal(fetched.output_text, "Hello there");
    const deleted = await client.responses.delete(response.id) as unknown as { deleted: boolean };
    assert.equal(deleted.deleted, true);
    await assert.rejects(
      client.responses.retrieve(response.id),
      (e) => e instanceof OpenAI.NotFoundError,
    );
  });

  it("streams in the event grammar the SDK's accumulator rebuilds", async () => {
    next = () => ({ reasoning: ["Thinking ", "hard"], text: ["Str", "eamed"], finish: "stop" });
    const stream = client.responses.stream({
      model: "qwen3-coder-plus",
      input: "Stream please",
      reasoning: { effort: "low" },
    });
    const events: { event: string; data: Record<string, unknown> }[] = [];
    for await (const event of stream) events.push({ event: event.type, data: event as never });
    assertGrammar(events);
    const final = await stream.finalResponse();
    assert.equal(final.output_text, "Streamed");
    assert.deepEqual(final.output.map((item) => item.type), ["reasoning", "message"]);
    const sent = upstream.requests.at(-1)!;
    assert.equal(sent.stream, true);
    assert.equal(sent.enable_thinking, true);
    assert.equal(sent.thinking_budget, 2048);
  });

  it("runs a function-call round trip, and continues it with previous_response_id", async () => {
    const tools: OpenAI.Responses.Tool[] = [{
      type: "function",
      name: "get_weather",
      description: "Weather of a city",
      parameters: { type: "object", properties: { city: { type: "string" } } },
      strict: false,
    }, { type: "web_search" }];
    next = (body) =>
      (body.messages as { role: string }[]).some((m) => m.role === "tool")
        ? { text: ["Sunny in Paris."], finish: "stop" }
        : {
          toolCalls: [{ id: "call_p1", name: "get_weather", args: ['{"city":', '"Paris"}'] }],
          finish: "tool_calls",
        };
    const first = await client.responses.create({
      model: "qwen3-coder-plus",
      input: "Weather in Paris?",
      tools,
    });
    const call = first.output.find((item) => item.type === "function_call");
    assert.ok(call && call.type === "function_call");
    assert.equal(call.call_id, "call_p1");
    assert.equal(call.arguments, '{"city":"Paris"}');
    const offered = upstream.requests.at(-1)!.tools as { type: string }[];
    assert.deepEqual(offered.map((t) => t.type), ["function"], "web_search went upstream");
    assert.ok(logLines.some((line) => line.includes('"web_search"')));

    const second = await client.responses.create({
      model: "qwen3-coder-plus",
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: "call_p1", output: "sunny, 24 °C" }],
      tools,
    });
    assert.equal(second.output_text, "Sunny in Paris.");
    assert.equal(second.previous_response_id, first.id);
    const sent = upstream.requests.at(-1)!.messages as {
      role: string;
      tool_call_id?: string;
      tool_calls?: { id: string }[];
    }[];
    assert.deepEqual(sent.map((m) => m.role), ["user", "assistant", "tool"]);
    assert.equal(sent[1].tool_calls![0].id, "call_p1");
    assert.equal(sent[2].tool_call_id, "call_p1");
  });

  it("seals reasoning in encrypted_content when asked, and opens it when it comes back", async () => {
    next = (body) =>
      (body.messages as { role: string }[]).some((m) => m.role === "tool")
        ? { text: ["done"], finish: "stop" }
        : {
          reasoning: ["I should list the files."],
          toolCalls: [{ id: "call_ls", name: "shell", args: ['{"cmd":"ls"}'] }],
          finish: "tool_calls",
        };
    const tools: OpenAI.Responses.Tool[] = [{
      type: "function",
      name: "shell",
      parameters: { type: "object", properties: { cmd: { type: "string" } } },
      strict: false,
    }];
    const first = await client.responses.create({
      model: "qwen3-coder-plus",
      input: "List the files",
      tools,
      store: false,
      include: ["reasoning.encrypted_content"],
    });
    const reasoning = first.output.find((item) => item.type === "reasoning");
    assert.ok(reasoning && reasoning.type === "reasoning");
    assert.match(reasoning.encrypted_content ?? "", /^qwen-reasoning-v1:/);
    // A stateless client sends the whole history back; the reasoning only sealed.
    await client.responses.create({
      model: "qwen3-coder-plus",
      store: false,
      tools,
      input: [
        { role: "user", content: "List the files" },
        { ...reasoning, summary: [] },
        ...first.output.filter((item) => item.type === "function_call"),
        { type: "function_call_output", call_id: "call_ls", output: "a.ts b.ts" },
      ] as OpenAI.Responses.ResponseInputItem[],
    });
    const assistant = (upstream.requests.at(-1)!.messages as {
      role: string;
      reasoning_content?: string;
    }[]).find((m) => m.role === "assistant");
    assert.equal(assistant?.reasoning_content, "I should list the files.");
  });

  it("refuses an unknown previous response, a bad field and a WebSocket, in OpenAI's shape", async () => {
    await assert.rejects(
      client.responses.create({
        model: "qwen3-coder-plus",
        previous_response_id: "resp_unknown",
        input: "x",
      }),
      (error) =>
        error instanceof OpenAI.BadRequestError && error.code === "previous_response_not_found" &&
        error.param === "previous_response_id" && /in memory/.test(error.message),
    );
    await assert.rejects(
      client.responses.create({ model: "qwen3-coder-plus", input: 42 as unknown as string }),
      (error) => error instanceof OpenAI.BadRequestError && error.param === "input",
    );
    const refused = await fetch(`${server.url.replace(/\/$/, "")}/v1/responses`, {
      headers: { authorization: `Bearer ${KEY}`, upgrade: "websocket", connection: "upgrade" },
    });
    assert.equal(refused.status, 426);
    assert.equal((await refused.json()).error.code, "websocket_not_supported");
  });

  it("keeps only the newest responses, as many as it was told", async () => {
    next = () => ({ text: ["ok"], finish: "stop" });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await client.responses.create({ model: "qwen3-coder-plus", input: `n${i}` })).id);
    }
    await assert.rejects(
      client.responses.retrieve(ids[0]),
      (e) => e instanceof OpenAI.NotFoundError,
    );
    assert.equal((await client.responses.retrieve(ids[4])).id, ids[4]);
    const unstored = await client.responses.create({
      model: "qwen3-coder-plus",
      input: "x",
      store: false,
    });
    await assert.rejects(
      client.responses.retrieve(unstored.id),
      (e) => e instanceof OpenAI.NotFoundError,
    );
  });
});
