/**
 * `/v1/responses` inside the app: the chat path's machinery (retries before the first byte,
 * the OAuth explanation, the log line) under OpenAI's shapes, and a stream cut half way.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PROVIDER_ANSWERS, UPSTREAM_ERRORS } from "../helpers/fake-upstream.ts";
import { waitFor } from "../helpers/wait-for.ts";
import { assembleOutput, assertGrammar, parseSse } from "../helpers/responses-grammar.ts";
import { type Harness, resetHealth, setup } from "./harness.ts";

const ASK = { model: "coder-model", input: "hi" };

describe("/v1/responses in the app", () => {
  let h: Harness;
  before(async () => {
    h = await setup({ tokens: { kind: "api_key" }, app: { retry: { maxRetries: 2 } } });
  });
  after(() => h.close());
  beforeEach(() => resetHealth(h.pool));

  async function send(body: unknown, headers: Record<string, string> = {}) {
    const logged = h.entries.length;
    const response = await h.call("/v1/responses", { json: body, headers });
    const text = await response.text();
    return { response, text, logged: () => waitFor(() => h.entries.length > logged) };
  }

  it("streams the fake's answer, retrying before the first byte, with one log line", async () => {
    h.upstream.next({ kind: "error", ...UPSTREAM_ERRORS.html }, { kind: "ok" });
    const { response, text, logged } = await send({ ...ASK, stream: true });
    assert.equal(response.status, 200);
    const events = parseSse(text);
    assertGrammar(events);
    assert.equal(events.at(-1)!.event, "response.completed");
    assert.deepEqual(
      assembleOutput(events).map((item) => (item as { type: string }).type),
      ["message"],
    );
    await logged();
    const entry = h.entries.at(-1)!;
    assert.equal(entry.path, "/v1/responses");
    assert.equal(entry.status, 200);
    assert.equal(entry.retries, 1);
    assert.equal(entry.model, "coder-model");
  });

  it("counts a streamed answer's tokens, as the translation read them", async () => {
    const before = completionTokens(h.metrics.render());
    const { response, text, logged } = await send({ ...ASK, stream: true });
    assert.equal(response.status, 200);
    await logged();
    // The fake reports 5 prompt and 7 completion tokens when the usage is asked for.
    assert.equal(completionTokens(h.metrics.render()), before + 7);
    const completed = parseSse(text).at(-1)!.data as { response: { usage: unknown } };
    assert.equal((completed.response.usage as { output_tokens: number }).output_tokens, 7);
  });

  it("ends a stream cut half way with response.failed", async () => {
    h.upstream.next({ kind: "ok", chunks: ["a", "b", "c", "d"], breakAfter: 2 });
    const { text } = await send({ ...ASK, stream: true });
    const events = parseSse(text);
    assertGrammar(events);
    assert.equal(events.at(-1)!.event, "response.failed");
    assert.ok(!events.some((e) => e.event === "response.completed"));
  });

  it("passes the upstream's refusal in OpenAI's shape", async () => {
    h.upstream.next({ kind: "error", ...PROVIDER_ANSWERS.codingPlanClient });
    const { response, text } = await send(ASK, { "user-agent": "curl/8" });
    assert.equal(response.status, 405);
    assert.match(JSON.parse(text).error.message, /Coding Plan/);
  });

  it("refuses a bad body with its field, an unknown path and a wrong method", async () => {
    let response = await h.call("/v1/responses", { json: { input: "x" } });
    let body = await response.json();
    assert.equal(response.status, 400);
    assert.equal(body.error.param, "model");
    response = await h.call("/v1/responses", {
      body: "{",
      headers: { "content-type": "application/json" },
    });
    assert.equal(response.status, 400);
    assert.equal((await response.json()).error.code, "invalid_json");
    response = await h.call("/v1/responses/resp_x/input_items");
    assert.equal(response.status, 404);
    response = await h.call("/v1/responses", { method: "PUT", body: "{}" });
    body = await response.json();
    assert.equal(response.status, 405);
  });
});

function completionTokens(metrics: string): number {
  const found = /^qwen_tokens_total\{account="[^"]*",kind="completion"\} (\d+)$/m.exec(metrics);
  return found === null ? 0 : Number(found[1]);
}
