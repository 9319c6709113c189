/**
 * `/v1/messages` inside the app: the chat path's machinery (retries before the first byte,
 * the OAuth explanation, usage, the log line and metrics) under Anthropic's shapes, and what
 * only this dialect has (stop sequences that end the call, a stream cut half way).
 */
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PROVIDER_ANSWERS, UPSTREAM_ERRORS } from "../helpers/fake-upstream.ts";
import { waitFor } from "../helpers/wait-for.ts";
import { assemble, assertGrammar, parseSse } from "../helpers/anthropic-grammar.ts";
import { type Harness, resetHealth, setup } from "./harness.ts";

const ASK = {
  model: "claude-sonnet-4-5-20250929",
  max_tokens: 256,
  messages: [{ role: "user", content: "hi" }],
};

describe("/v1/messages in the app", () => {
  let h: Harness;
  before(async () => {
    h = await setup({ tokens: { kind: "api_key" }, app: { retry: { maxRetries: 2 } } });
  });
  after(() => h.close());
  beforeEach(() => resetHealth(h.pool));

  async function send(body: unknown, headers: Record<string, string> = {}) {
    const logged = h.entries.length;
    const response = await h.call("/v1/messages", { json: body, headers });
    const text = await response.text();
    return { response, text, logged: () => waitFor(() => h.entries.length > logged) };
  }

  it("streams the fake's answer in Anthropic's grammar, with the default model mapping", async () => {
    const { response, text, logged } = await send({ ...ASK, stream: true });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = parseSse(text);
    assertGrammar(events);
    assert.deepEqual(assemble(events).content, [{ type: "text", text: "Hello!" }]);
    const sent = JSON.parse(h.upstream.chatRequests.at(-1)!.body);
    assert.equal(sent.model, "qwen3-coder-plus");
    assert.equal(sent.stream, true);
    await logged();
    const entry = h.entries.at(-1)!;
    assert.equal(entry.status, 200);
    assert.equal(entry.model, ASK.model);
  });

  it("counts a streamed answer's tokens, as the translation read them", async () => {
    const before = completionTokens(h.metrics.render());
    const { response, logged } = await send({ ...ASK, stream: true });
    assert.equal(response.status, 200);
    await logged();
    // The fake reports 5 prompt and 7 completion tokens when the usage is asked for.
    assert.equal(completionTokens(h.metrics.render()), before + 7);
  });

  it("retries before the first byte, as the chat path does", async () => {
    h.upstream.next(
      { kind: "error", ...UPSTREAM_ERRORS.html },
      { kind: "ok" },
    );
    const { response, text, logged } = await send({ ...ASK, stream: true });
    assert.equal(response.status, 200);
    assertGrammar(parseSse(text));
    await logged();
    assert.equal(h.entries.at(-1)!.retries, 1);
  });

  it("ends a stream cut half way with an error event and no message_stop", async () => {
    h.upstream.next({ kind: "ok", chunks: ["a", "b", "c", "d"], breakAfter: 2 });
    const { response, text } = await send({ ...ASK, stream: true });
    assert.equal(response.status, 200);
    const events = parseSse(text);
    assertGrammar(events);
    assert.equal(events.at(-1)!.event, "error");
    assert.ok(!events.some((e) => e.event === "message_stop"));
  });

  it("stops at a stop sequence, cancels the upstream call and logs a 200", async () => {
    h.upstream.next({ kind: "ok", chunks: ["one ", "two ", "three ", "four"], chunkDelayMs: 20 });
    const { text, logged } = await send({ ...ASK, stream: true, stop_sequences: ["three"] });
    const events = parseSse(text);
    assertGrammar(events);
    const message = assemble(events);
    assert.deepEqual(message.content, [{ type: "text", text: "one two " }]);
    assert.equal(message.stop_reason, "stop_sequence");
    assert.equal(message.stop_sequence, "three");
    const sent = JSON.parse(h.upstream.chatRequests.at(-1)!.body);
    assert.equal(sent.stop, undefined, "stop sequences went upstream");
    await waitFor(() => h.upstream.chatRequests.at(-1)!.aborted);
    await logged();
    assert.equal(h.entries.at(-1)!.status, 200);
  });

  it("answers whole, asking a thinking answer as a stream upstream", async () => {
    const { response, text } = await send({
      ...ASK,
      thinking: { type: "enabled", budget_tokens: 1024 },
    });
    assert.equal(response.status, 200);
    const message = JSON.parse(text);
    assert.equal(message.type, "message");
    assert.equal(message.model, ASK.model);
    assert.deepEqual(message.content, [{ type: "text", text: "Hello!" }]);
    const sent = JSON.parse(h.upstream.chatRequests.at(-1)!.body);
    assert.equal(sent.enable_thinking, true);
    assert.equal(sent.stream, true, "some Qwen models think only when streaming");
  });

  it("passes the upstream's refusal in Anthropic's shape, never the key", async () => {
    h.upstream.next({ kind: "error", ...PROVIDER_ANSWERS.codingPlanClient });
    const { response, text } = await send(ASK, { "user-agent": "curl/8" });
    assert.equal(response.status, 405);
    const body = JSON.parse(text);
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "permission_error");
    assert.match(body.error.message, /Coding Plan/);
    assert.ok(!text.includes("token-1"));
  });

  it("refuses what it cannot take, in Anthropic's shape", async () => {
    const cases: [RequestInit & { json?: unknown }, number, string, RegExp][] = [
      [{ json: { ...ASK, max_tokens: undefined } }, 400, "invalid_request_error", /max_tokens/],
      [{ json: { ...ASK, messages: [] } }, 400, "invalid_request_error", /messages/],
      [
        { body: "{not json", headers: { "content-type": "application/json" } },
        400,
        "invalid_request_error",
        /JSON/,
      ],
      [{ method: "GET" }, 405, "invalid_request_error", /POST/],
    ];
    for (const [init, status, type, message] of cases) {
      const response = await h.call("/v1/messages", init);
      const body = await response.json();
      assert.equal(response.status, status, JSON.stringify(body));
      assert.equal(body.type, "error");
      assert.equal(body.error.type, type);
      assert.match(body.error.message, message);
    }
  });
});

describe("/v1/messages refusals of the server's own", () => {
  it("answers a missing key, a large body and an OAuth refusal in Anthropic's shape", async () => {
    const h = await setup({
      security: { apiKeys: ["right-key"] },
      app: { maxBodyBytes: 1024, retry: { maxRetries: 0 } },
    });
    try {
      let response = await h.call("/v1/messages", { json: ASK });
      let body = await response.json();
      assert.equal(response.status, 401);
      assert.equal(body.error.type, "authentication_error");
      assert.match(body.error.message, /x-api-key/);

      response = await h.call("/v1/messages", {
        json: { ...ASK, messages: [{ role: "user", content: "x".repeat(4096) }] },
        headers: { "x-api-key": "right-key" },
      });
      body = await response.json();
      assert.equal(response.status, 413);
      assert.equal(body.error.type, "request_too_large");

      // OAuth tokens are refused since the free tier ended: the explanation carries over.
      h.upstream.next(
        { kind: "error", ...UPSTREAM_ERRORS.invalidToken },
        { kind: "error", ...UPSTREAM_ERRORS.invalidToken },
      );
      response = await h.call("/v1/messages", {
        json: ASK,
        headers: { authorization: "Bearer right-key" },
      });
      body = await response.json();
      assert.equal(response.status, 401);
      assert.equal(body.error.type, "authentication_error");
      assert.match(body.error.message, /free/i);
    } finally {
      await h.close();
    }
  });

  it("counts tokens without an upstream call, and never answers 404", async () => {
    const h = await setup();
    try {
      const response = await h.call("/v1/messages/count_tokens", {
        json: {
          model: "claude-haiku-4-5",
          system: "You are terse.",
          tools: [{ name: "Bash", input_schema: { type: "object", properties: {} } }],
          messages: [{ role: "user", content: "How many tokens is this?" }],
        },
      });
      assert.equal(response.status, 200);
      const { input_tokens } = await response.json();
      assert.ok(input_tokens > 10, String(input_tokens));
      assert.equal(h.upstream.chatRequests.length, 0);
    } finally {
      await h.close();
    }
  });
});

function completionTokens(metrics: string): number {
  const found = /^qwen_tokens_total\{account="[^"]*",kind="completion"\} (\d+)$/m.exec(metrics);
  return found === null ? 0 : Number(found[1]);
}
