import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { constantTimeEqual } from "../../src/server/security.ts";
import { type Harness, HELLO, setup } from "./harness.ts";

const encode = (s: string) => new TextEncoder().encode(s);

describe("security: Host and Origin on a loopback bind", () => {
  let h: Harness;
  before(async () => (h = await setup({ security: { allowHosts: ["proxy.internal"] } })));
  after(() => h.close());

  for (const host of ["localhost:8080", "127.0.0.1:8080", "[::1]:8080", "LOCALHOST:8080"]) {
    it(`accepts Host ${host}`, async () => {
      const response = await h.call("/health", { headers: { host } });
      assert.equal(response.status, 200);
      await response.body?.cancel();
    });
  }

  for (
    const host of [
      "evil.example:8080",
      "evil.example",
      "localhost:9999",
      "127.0.0.1",
      "localhost.evil.example:8080",
    ]
  ) {
    it(`refuses Host ${host} with 403 (DNS rebinding)`, async () => {
      const before = h.upstream.requests.length;
      const response = await h.call("/v1/chat/completions", { json: HELLO, headers: { host } });
      assert.equal(response.status, 403);
      const json = await response.json();
      assert.equal(json.error.code, "host_not_allowed");
      assert.match(json.error.message, /--allow-host/);
      assert.equal(h.upstream.requests.length, before);
    });
  }

  it("accepts a name given with --allow-host, with or without a port", async () => {
    for (const host of ["proxy.internal", "proxy.internal:443"]) {
      const response = await h.call("/v1/models", { headers: { host } });
      assert.equal(response.status, 200, host);
      await response.body?.cancel();
    }
  });

  it("refuses a request from a web page (Origin) with 403 when no origin is allowed", async () => {
    const response = await h.call("/v1/chat/completions", {
      json: HELLO,
      headers: { origin: "https://evil.example" },
    });
    assert.equal(response.status, 403);
    assert.equal((await response.json()).error.code, "origin_not_allowed");
    assert.equal(response.headers.get("access-control-allow-origin"), null);
  });

  it("refuses a preflight from an origin not allowed", async () => {
    const response = await h.call("/v1/chat/completions", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    assert.equal(response.status, 403);
    assert.equal(response.headers.get("access-control-allow-origin"), null);
    await response.body?.cancel();
  });

  it("does not check Host on a non-loopback bind (API keys guard it there)", async () => {
    const open = await setup({ security: { loopback: false, apiKeys: ["k-123456"] } });
    try {
      const response = await open.call("/health", { headers: { host: "qwen.example:8080" } });
      assert.equal(response.status, 200);
      await response.body?.cancel();
    } finally {
      await open.close();
    }
  });
});

describe("security: CORS for listed origins", () => {
  let h: Harness;
  before(async () => (h = await setup({ security: { corsOrigins: ["https://app.example"] } })));
  after(() => h.close());

  it("answers a preflight with CORS headers", async () => {
    const response = await h.call("/v1/chat/completions", {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-stainless-os",
      },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get("access-control-allow-origin"), "https://app.example");
    assert.match(response.headers.get("access-control-allow-methods") ?? "", /POST/);
    assert.match(response.headers.get("access-control-allow-headers") ?? "", /x-stainless-os/);
    assert.match(response.headers.get("vary") ?? "", /Origin/);
  });

  it("adds CORS headers to the answer, streams included", async () => {
    const response = await h.call("/v1/chat/completions", {
      json: { ...HELLO, stream: true },
      headers: { origin: "https://app.example" },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("access-control-allow-origin"), "https://app.example");
    await response.text();
  });

  it("still refuses other origins", async () => {
    const response = await h.call("/v1/models", { headers: { origin: "https://other.example" } });
    assert.equal(response.status, 403);
    await response.body?.cancel();
  });
});

describe("security: API keys", () => {
  let h: Harness;
  before(
    async () => (h = await setup({ security: { apiKeys: ["key-one-1234", "key-two-5678"] } })),
  );
  after(() => h.close());

  it("refuses /v1 without a key with an OpenAI-style 401", async () => {
    const before = h.upstream.requests.length;
    const response = await h.call("/v1/chat/completions", { json: HELLO });
    assert.equal(response.status, 401);
    const json = await response.json();
    assert.equal(json.error.code, "invalid_api_key");
    assert.equal(response.headers.get("www-authenticate"), "Bearer");
    assert.equal(h.upstream.requests.length, before);
  });

  for (
    const [name, headers] of [
      ["a wrong bearer key", { authorization: "Bearer key-one-123" }],
      ["a longer key", { authorization: "Bearer key-one-12345" }],
      ["a wrong x-api-key", { "x-api-key": "nope" }],
      ["an empty bearer", { authorization: "Bearer " }],
      ["a Basic credential", { authorization: "Basic a2V5LW9uZS0xMjM0Og==" }],
    ] as const
  ) {
    it(`refuses ${name}`, async () => {
      const response = await h.call("/v1/models", { headers });
      assert.equal(response.status, 401);
      await response.body?.cancel();
    });
  }

  for (
    const [name, headers] of [
      ["Authorization: Bearer", { authorization: "Bearer key-one-1234" }],
      ["a lower-case bearer", { authorization: "bearer key-two-5678" }],
      ["x-api-key", { "x-api-key": "key-two-5678" }],
    ] as const
  ) {
    it(`accepts a key sent as ${name}, and never forwards it`, async () => {
      const response = await h.call("/v1/chat/completions", { json: HELLO, headers });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      const sent = h.upstream.chatRequests.at(-1)!.headers;
      assert.doesNotMatch(sent.get("authorization") ?? "", /key-/);
      assert.equal(sent.get("x-api-key"), null);
    });
  }

  it("leaves /health open: it tells nothing", async () => {
    const response = await h.call("/health");
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });

  it("compares in constant time, whatever the lengths", () => {
    assert.equal(constantTimeEqual(encode("abc"), encode("abc")), true);
    assert.equal(constantTimeEqual(encode("abd"), encode("abc")), false);
    assert.equal(constantTimeEqual(encode("ab"), encode("abc")), false);
    assert.equal(constantTimeEqual(encode("abcd"), encode("abc")), false);
    assert.equal(constantTimeEqual(encode(""), encode("abc")), false);
  });
});

describe("security: body size limit", () => {
  let h: Harness;
  before(async () => (h = await setup({ app: { maxBodyBytes: 1024 } })));
  after(() => h.close());

  it("answers 413 to a declared Content-Length over the limit without reading it", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(512));
        if (pulled > 100) controller.close();
      },
    });
    const response = await h.app(
      new Request("http://127.0.0.1:8080/v1/chat/completions", {
        method: "POST",
        headers: { host: "127.0.0.1:8080", "content-length": "5000000" },
        body,
        // @ts-ignore: needed by the runtimes for a streaming request body
        duplex: "half",
      }),
    );
    assert.equal(response.status, 413);
    assert.equal((await response.json()).error.code, "request_too_large");
    assert.ok(pulled <= 2, `pulled ${pulled} chunks`);
  });

  it("answers 413 to a chunked body as soon as it passes the limit", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(512));
        if (pulled > 100) controller.close();
      },
    });
    const response = await h.app(
      new Request("http://127.0.0.1:8080/v1/embeddings", {
        method: "POST",
        headers: { host: "127.0.0.1:8080" },
        body,
        // @ts-ignore: needed by the runtimes for a streaming request body
        duplex: "half",
      }),
    );
    assert.equal(response.status, 413);
    await response.body?.cancel();
    assert.ok(pulled < 10, `pulled ${pulled} chunks`);
    assert.equal(h.upstream.requests.length, 0);
  });

  it("lets a body at the limit through", async () => {
    const padding = "x".repeat(1024 - JSON.stringify({ ...HELLO, pad: "" }).length);
    const response = await h.call("/v1/chat/completions", { json: { ...HELLO, pad: padding } });
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });
});
