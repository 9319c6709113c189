import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Harness, HELLO, setup, sseEvents } from "./harness.ts";

describe("serve app: chat completions", () => {
  let h: Harness;
  before(async () => (h = await setup()));
  after(() => h.close());

  it("passes a JSON answer through with the upstream's status and headers", async () => {
    const response = await h.call("/v1/chat/completions", { json: HELLO });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /application\/json/);
    assert.ok(response.headers.get("x-request-id")?.startsWith("chatcmpl-"));
    const body = await response.json();
    assert.equal(body.choices[0].message.content, "Hello!");
  });

  it("passes an SSE stream through byte for byte, [DONE] included", async () => {
    const response = await h.call("/v1/chat/completions", { json: { ...HELLO, stream: true } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    const events = await sseEvents(response);
    assert.equal(events.at(-1), "[DONE]");
    const text = events.slice(0, -1).map((e) => JSON.parse(e).choices[0].delta.content ?? "")
      .join("");
    assert.equal(text, "Hello!");
  });

  it("forwards every body field verbatim, byte for byte", async () => {
    const raw = JSON.stringify({
      ...HELLO,
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
      response_format: { type: "json_object" },
      stream_options: { include_usage: true },
      enable_thinking: true,
      unknown_future_field: [1, 2, { x: null }],
    });
    const response = await h.call("/v1/chat/completions", {
      method: "POST",
      body: raw,
      headers: { "content-type": "application/json" },
    });
    await response.body?.cancel();
    assert.equal(h.upstream.chatRequests.at(-1)?.body, raw);
  });

  it("fills in the account's default model when the client names none", async () => {
    const response = await h.call("/v1/chat/completions", {
      json: { messages: [{ role: "user", content: "hi" }], temperature: 0.2 },
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
    const sent = JSON.parse(h.upstream.chatRequests.at(-1)!.body);
    assert.equal(sent.model, "coder-model");
    assert.equal(sent.temperature, 0.2);
  });

  it("sends the official OAuth header set and never the client's Authorization", async () => {
    const response = await h.call("/v1/chat/completions", {
      json: HELLO,
      headers: { authorization: "Bearer client-secret", cookie: "a=b", "user-agent": "curl/8" },
    });
    await response.body?.cancel();
    const headers = h.upstream.chatRequests.at(-1)!.headers;
    assert.equal(headers.get("authorization"), `Bearer ${h.tokens.tokens[h.tokens.index]}`);
    assert.equal(headers.get("user-agent"), "qwen/test (linux; x64)");
    assert.equal(headers.get("x-dashscope-useragent"), "qwen/test (linux; x64)");
    assert.equal(headers.get("x-dashscope-authtype"), "qwen-oauth");
    assert.equal(headers.get("x-dashscope-cachecontrol"), "enable");
    assert.equal(headers.get("cookie"), null);
  });

  it("forwards the client's User-Agent for API-key accounts", async () => {
    h.tokens.kind = "api_key";
    try {
      const response = await h.call("/v1/chat/completions", {
        json: HELLO,
        headers: { "user-agent": "opencode/1.0" },
      });
      await response.body?.cancel();
      const headers = h.upstream.chatRequests.at(-1)!.headers;
      assert.equal(headers.get("user-agent"), "opencode/1.0");
      assert.equal(headers.get("x-dashscope-authtype"), null);
    } finally {
      h.tokens.kind = "oauth";
    }
  });

  for (
    const [name, body, code] of [
      ["not JSON", "{nope", "invalid_json"],
      ["an array", "[]", "invalid_request_body"],
      ["without messages", '{"model":"m"}', "invalid_request_body"],
      ["with messages not an array", '{"messages":"hi"}', "invalid_request_body"],
    ] as const
  ) {
    it(`answers an OpenAI-style 400 to a body ${name}, without calling upstream`, async () => {
      const before = h.upstream.requests.length;
      const response = await h.call("/v1/chat/completions", {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
      });
      assert.equal(response.status, 400);
      const json = await response.json();
      assert.equal(json.error.code, code);
      assert.equal(json.error.type, "invalid_request_error");
      assert.equal(typeof json.error.message, "string");
      assert.ok("param" in json.error);
      assert.equal(h.upstream.requests.length, before);
    });
  }

  it("answers 405 to GET /v1/chat/completions", async () => {
    const response = await h.call("/v1/chat/completions");
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "POST");
    await response.body?.cancel();
  });
});

describe("serve app: other endpoints", () => {
  let h: Harness;
  before(async () => (h = await setup()));
  after(() => h.close());

  it("lists the upstream's models and caches the list", async () => {
    const first = await h.call("/v1/models");
    assert.equal(first.status, 200);
    const body = await first.json();
    assert.equal(body.object, "list");
    assert.deepEqual(body.data.map((m: { id: string }) => m.id), [
      "coder-model",
      "qwen3-coder-plus",
    ]);
    const second = await h.call("/v1/models");
    assert.deepEqual(await second.json(), body);
    assert.equal(h.upstream.requests.filter((r) => r.path === "/v1/models").length, 1);
  });

  it("falls back to the built-in list when the upstream has none", async () => {
    const other = await setup({ upstream: { models: false } });
    try {
      const response = await other.call("/v1/models");
      assert.equal(response.status, 200);
      const body = await response.json();
      assert.equal(body.object, "list");
      assert.ok(body.data.some((m: { id: string }) => m.id === "coder-model"));
      for (const model of body.data) assert.equal(model.object, "model");
    } finally {
      await other.close();
    }
  });

  it("forwards other /v1 paths unchanged: method, body, content type, query", async () => {
    const response = await h.call("/v1/embeddings?x=1", {
      method: "POST",
      body: '{"input":"hi","model":"text-embedding-v3"}',
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(body.echo.body, '{"input":"hi","model":"text-embedding-v3"}');
    assert.equal(body.echo.contentType, "application/json; charset=utf-8");
    assert.equal(h.upstream.requests.at(-1)?.path, "/v1/embeddings?x=1");
  });

  it("passes the upstream's 404 for an unknown /v1 path through", async () => {
    const response = await h.call("/v1/nothing-here");
    assert.equal(response.status, 404);
    const body = await response.json();
    assert.equal(body.error.message, "not found");
  });

  it("answers 404 outside /v1 and /health", async () => {
    const response = await h.call("/v2/chat");
    assert.equal(response.status, 404);
    assert.equal((await response.json()).error.code, "not_found");
  });

  it("says ok on /health while the account is usable, expired tokens included", async () => {
    for (const state of ["valid", "expired"] as const) {
      h.tokens.current = state;
      const response = await h.call("/health");
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { status: "ok" });
    }
    h.tokens.current = "valid";
  });

  it("says unavailable on /health, with a reason that leaks nothing", async () => {
    for (const state of ["missing", "invalid", "needs_login"] as const) {
      h.tokens.current = state;
      const response = await h.call("/health");
      assert.equal(response.status, 503);
      const body = await response.json();
      assert.deepEqual(Object.keys(body).sort(), ["reason", "status"]);
      assert.equal(body.status, "unavailable");
      assert.match(body.reason, /qwen (auth|status)/);
      assert.doesNotMatch(body.reason, /token-|default|\/|\\/);
    }
    h.tokens.current = "valid";
  });

  it("answers /v1 with 401 no_credentials when there are none, telling to run qwen auth", async () => {
    h.tokens.current = "missing";
    try {
      for (const path of ["/v1/chat/completions", "/v1/models"]) {
        const response = await h.call(path, path.endsWith("models") ? {} : { json: HELLO });
        assert.equal(response.status, 401);
        const body = await response.json();
        assert.equal(body.error.code, "no_credentials");
        assert.match(body.error.message, /qwen auth/);
      }
    } finally {
      h.tokens.current = "valid";
    }
  });

  it("logs one line per request with method, path, status, model and upstream status", async () => {
    const before = h.lines.length;
    const response = await h.call("/v1/chat/completions", { json: { ...HELLO, stream: true } });
    await response.text();
    assert.equal(h.lines.length, before + 1);
    const line = h.lines.at(-1)!;
    assert.match(
      line,
      /POST \/v1\/chat\/completions 200 \d+ms model=coder-model account=default upstream=200/,
    );
  });

  it("never logs a token, key, query or body", async () => {
    const response = await h.call("/v1/chat/completions?key=sk-secretquery", {
      json: { ...HELLO, messages: [{ role: "user", content: "body-secret" }] },
      headers: { authorization: "Bearer sk-client-secret" },
    });
    await response.text();
    const all = h.lines.join("");
    for (const secret of ["token-1", "token-2", "sk-", "body-secret", "secretquery"]) {
      assert.ok(!all.includes(secret), `log contains ${secret}`);
    }
  });
});

describe("serve log lines", () => {
  it("names each line's own model and account, quoting what needs it", async () => {
    const { createLogger } = await import("../../src/server/log.ts");
    const lines: string[] = [];
    const logger = createLogger({ format: "text", verbose: false, write: (l) => lines.push(l) });
    const entry = { method: "POST", path: "/v1/chat/completions", status: 200, retries: 0 };
    logger.request({ ...entry, durationMs: 1, model: "qwen3-coder-plus", account: "default" });
    logger.request({ ...entry, durationMs: 1, model: "qwen3-coder-plus", account: "default" });
    logger.request({ ...entry, durationMs: 1, model: "my model", account: "work" });
    logger.request({ ...entry, durationMs: 1 });
    assert.match(lines[0], / 1ms model=qwen3-coder-plus account=default\n$/);
    assert.equal(lines[1].slice(24), lines[0].slice(24));
    assert.match(lines[2], / 1ms model="my model" account=work\n$/);
    assert.match(lines[3], / 1ms\n$/);
  });
});

describe("serve app: the server's idle timeout", () => {
  it("is lifted once for a call that outlives the watchdog's tick, not for quick ones", {
    timeout: 10_000,
  }, async () => {
    // Timeouts of 10 s: the watchdog ticks every second.
    const h = await setup({ app: { firstByteTimeoutMs: 10_000, idleTimeoutMs: 10_000 } });
    try {
      let lifts = 0;
      const info = { disableIdleTimeout: () => void lifts++ };
      const call = () =>
        h.app(
          new Request("http://127.0.0.1:8080/v1/chat/completions", {
            method: "POST",
            headers: { host: "127.0.0.1:8080", "content-type": "application/json" },
            body: JSON.stringify(HELLO),
          }),
          info,
        );
      for (let i = 0; i < 20; i++) {
        const response = await call();
        assert.equal(response.status, 200);
        await response.arrayBuffer();
      }
      // Twenty quick calls in a row fit between two ticks, or straddle one at most.
      assert.ok(lifts <= 1, `${lifts} lifts for quick calls`);
      const before = lifts;
      h.upstream.next({ kind: "ok", firstByteDelayMs: 1_500 });
      const slow = await call();
      assert.equal(slow.status, 200);
      await slow.arrayBuffer();
      assert.equal(lifts - before, 1);
    } finally {
      await h.close();
    }
  });
});
