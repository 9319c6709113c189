/**
 * Bodies nested deeper than any API request needs (issue 17, item 4): 100,000 levels overflowed
 * the stack in the chat route's per-account body on Bun, which the client took for a network
 * failure (502 after three rounds of retries); elsewhere they went upstream. Every route that
 * parses a body refuses them at once, on both runtimes.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { accountOf } from "../../src/accounts/account.ts";
import { AccountPool } from "../../src/pool/pool.ts";
import { nestedTooDeep, scanChatBody } from "../../src/server/json-scan.ts";
import { type CallReport, UpstreamClient } from "../../src/upstream/client.ts";
import { DEFAULT_RETRY_POLICY } from "../../src/upstream/retry.ts";
import { FakeTokenSource } from "./fake-token-source.ts";
import { type Harness, setup } from "./harness.ts";

/** The limit of src/server/json-scan.ts, as docs/serve.md states it. */
const MAX_JSON_DEPTH = 256;
const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
const DEEP = nested(100_000);
const HI = '[{"role":"user","content":"hi"}]';

describe("deeply nested request bodies", () => {
  let h: Harness;
  before(async () => (h = await setup()));
  after(() => h.close());

  async function post(path: string, body: string) {
    const calls = h.upstream.requests.length;
    const response = await h.call(path, {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    const json = await response.json();
    return { response, json, upstreamCalls: h.upstream.requests.length - calls };
  }

  const cases: [string, string][] = [
    // No model: the body is re-serialized per account (with the account's default model).
    ["/v1/chat/completions", `{"messages":${HI},"x":${DEEP}}`],
    ["/v1/chat/completions", `{"model":"coder-model","messages":${HI},"x":${DEEP}}`],
    // An escaped key sends the chat route's scan to JSON.parse.
    ["/v1/chat/completions", `{"\\u0078":1,"model":"coder-model","messages":${HI},"x":${DEEP}}`],
    [
      "/v1/chat/completions",
      `{"model":"coder-model","messages":[{"role":"user","content":${DEEP}}]}`,
    ],
    ["/v1/messages", `{"model":"claude-x","max_tokens":5,"messages":${HI},"metadata":${DEEP}}`],
    [
      "/v1/messages",
      `{"model":"claude-x","max_tokens":5,"messages":${HI},"tools":[{"name":"t","input_schema":${DEEP}}]}`,
    ],
    ["/v1/messages/count_tokens", `{"model":"claude-x","messages":${HI},"system":${DEEP}}`],
    ["/v1/responses", `{"model":"coder-model","input":"hi","metadata":${DEEP}}`],
    ["/v1/responses", `{"model":"coder-model","input":${DEEP}}`],
  ];

  for (const [path, body] of cases) {
    it(`refuses one 100,000 levels deep with 400 at once: ${path} ${body.slice(0, 60)}`, async () => {
      const { response, json, upstreamCalls } = await post(path, body);
      assert.equal(response.status, 400, JSON.stringify(json));
      assert.match(json.error.message, new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`));
      if (!path.startsWith("/v1/messages")) assert.equal(json.error.code, "invalid_json");
      else assert.equal(json.type, "error");
      assert.equal(upstreamCalls, 0);
      assert.equal(h.entries.at(-1)?.retries, 0);
      assert.equal(h.entries.at(-1)?.status, 400);
    });
  }

  it("takes a body nested as deep as the limit, and refuses one level more", async () => {
    // The top-level object is the first level.
    const at = (levels: number) =>
      `{"model":"coder-model","messages":${HI},"x":${nested(levels - 1)}}`;
    const ok = await post("/v1/chat/completions", at(MAX_JSON_DEPTH));
    assert.equal(ok.response.status, 200, JSON.stringify(ok.json));
    const refused = await post("/v1/chat/completions", at(MAX_JSON_DEPTH + 1));
    assert.equal(refused.response.status, 400);
    // Also where the scan does not answer (no model) and the body is parsed.
    const parsed = (levels: number) => `{"messages":${HI},"x":${nested(levels - 1)}}`;
    assert.equal((await post("/v1/chat/completions", parsed(MAX_JSON_DEPTH))).response.status, 200);
    assert.equal(
      (await post("/v1/chat/completions", parsed(MAX_JSON_DEPTH + 1))).response.status,
      400,
    );
    const messages = (levels: number) =>
      `{"model":"claude-x","max_tokens":5,"messages":${HI},"metadata":{"x":${nested(levels - 2)}}}`;
    assert.equal((await post("/v1/messages", messages(MAX_JSON_DEPTH))).response.status, 200);
    assert.equal((await post("/v1/messages", messages(MAX_JSON_DEPTH + 1))).response.status, 400);
  });

  it("ignores brackets inside strings", async () => {
    const body = JSON.stringify({
      model: "coder-model",
      messages: [{ role: "user", content: `${DEEP} \\" ${DEEP}` }],
    });
    const { response } = await post("/v1/chat/completions", body);
    assert.equal(response.status, 200);
  });
});

describe("the upstream client: a per-account body that cannot be built", () => {
  it("is thrown to the route, not taken for a network failure and retried", async () => {
    const pool = new AccountPool({
      strategy: "fill-first",
      entries: [accountOf(new FakeTokenSource({ baseUrl: "http://127.0.0.1:9/v1" }))],
    });
    let fetched = 0;
    const client = new UpstreamClient({
      fetch: () => {
        fetched++;
        return Promise.reject(new TypeError("connection refused"));
      },
      pool,
      userAgent: "qwen/test (linux; x64)",
      firstByteTimeoutMs: 1_000,
      idleTimeoutMs: 1_000,
      maxResponseBytes: 1_000_000,
      retry: DEFAULT_RETRY_POLICY,
      sleep: () => Promise.resolve(),
      now: Date.now,
    });
    const report: CallReport = { retries: 0, streaming: false, bodyEnded() {} };
    await assert.rejects(
      client.forward({
        method: "POST",
        path: "/chat/completions",
        body: () => {
          throw new RangeError("Maximum call stack size exceeded");
        },
        contentType: "application/json",
        accept: null,
        userAgent: null,
        clientRequest: new Request("http://127.0.0.1:8080/v1/chat/completions"),
      }, report),
      RangeError,
    );
    assert.equal(fetched, 0);
    assert.equal(report.retries, 0);
    assert.equal(report.upstreamError, undefined);
    assert.equal(pool.members[0].health.state, "ok");
  });
});

describe("nestedTooDeep and the chat scan agree on the limit", () => {
  it("counts the top level, and no bracket inside a string", () => {
    assert.equal(nestedTooDeep(nested(MAX_JSON_DEPTH)), false);
    assert.equal(nestedTooDeep(nested(MAX_JSON_DEPTH + 1)), true);
    assert.equal(nestedTooDeep(`{"a":"${"[".repeat(1000)}\\"${"{".repeat(1000)}"}`), false);
    assert.equal(nestedTooDeep(`["\\\\", ${nested(MAX_JSON_DEPTH)}]`), true);
    // Not JSON: JSON.parse says why.
    assert.equal(nestedTooDeep(`["${"[".repeat(1000)}`), false);
    const chat = (levels: number) =>
      new TextEncoder().encode(`{"model":"m","messages":[],"x":${nested(levels - 1)}}`);
    assert.deepEqual(scanChatBody(chat(MAX_JSON_DEPTH)), { model: "m", hasModel: true });
    assert.equal(scanChatBody(chat(MAX_JSON_DEPTH + 1)), undefined);
  });
});
