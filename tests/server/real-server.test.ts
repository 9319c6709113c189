/**
 * The app on the runtime's own server (Deno.serve / Bun.serve through src/runtime), called over
 * loopback by fetch and by the official `openai` SDK.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import type { Server } from "../../src/runtime/mod.ts";
import { UPSTREAM_ERRORS } from "../helpers/fake-upstream.ts";
import { startServer } from "../helpers/with-server.ts";
import { type Harness, HELLO, resetHealth, setup, sseEvents } from "./harness.ts";
import { waitFor } from "../helpers/wait-for.ts";

async function served(options: Parameters<typeof setup>[0] = {}) {
  const bound: { server?: Server } = {};
  const h = await setup({
    ...options,
    security: { port: () => bound.server?.port, ...options.security },
  });
  const server = bound.server = await startServer(h.app);
  const url = server.url;
  return {
    h,
    url,
    close: async () => {
      await server.close(true);
      await h.close();
    },
  };
}

describe("serve on the runtime server", () => {
  let s: Awaited<ReturnType<typeof served>>;
  let h: Harness;
  before(async () => {
    s = await served();
    h = s.h;
  });
  after(() => s.close());

  it("answers a non-streaming completion", async () => {
    const response = await fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(HELLO),
    });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).choices[0].message.content, "Hello!");
  });

  it("streams: the first event reaches the client before the upstream is done", async () => {
    h.upstream.next({ kind: "ok", chunkDelayMs: 400, chunks: ["a", "b", "c"] });
    const started = Date.now();
    const response = await fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...HELLO, stream: true }),
    });
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /^data: /);
    assert.ok(Date.now() - started < 350, `first event after ${Date.now() - started} ms`);
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    assert.match(rest, /data: \[DONE\]\n\n$/);
  });

  it("cancels the upstream call when the client leaves mid-stream", async () => {
    h.upstream.next({ kind: "ok", chunkDelayMs: 200, chunks: ["a", "b", "c", "d", "e", "f"] });
    const controller = new AbortController();
    const response = await fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...HELLO, stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.read().catch(() => {});
    const upstreamCall = h.upstream.chatRequests.at(-1)!;
    await waitFor(() => upstreamCall.aborted);
  });

  it("cancels the upstream call when the client leaves before the first byte", async () => {
    h.upstream.next({ kind: "hang" });
    const controller = new AbortController();
    const pending = fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(HELLO),
      signal: controller.signal,
    }).catch((error) => error);
    await waitFor(() => h.upstream.chatRequests.at(-1)?.body.includes('"hi"') === true);
    const upstreamCall = h.upstream.chatRequests.at(-1)!;
    controller.abort();
    await pending;
    await waitFor(() => upstreamCall.aborted);
  });
});

describe("serve with the openai SDK as the client", () => {
  let s: Awaited<ReturnType<typeof served>>;
  let client: OpenAI;
  before(async () => {
    s = await served({ security: { apiKeys: ["sdk-key-123456"] } });
    client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "sdk-key-123456", maxRetries: 0 });
  });
  after(() => s.close());
  // The quota test cools the one account down.
  beforeEach(() => resetHealth(s.h.pool));

  it("gets a non-streaming answer", async () => {
    const completion = await client.chat.completions.create({
      model: "coder-model",
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(completion.choices[0].message.content, "Hello!");
    assert.equal(completion.usage?.total_tokens, 6);
  });

  it("gets a streamed answer", async () => {
    const stream = await client.chat.completions.create({
      model: "coder-model",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    let text = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, "Hello!");
    assert.equal(finish, "stop");
  });

  it("lists models", async () => {
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    assert.ok(ids.includes("coder-model"));
  });

  it("maps a quota answer to RateLimitError with the upstream's code", async () => {
    s.h.upstream.next({ kind: "error", ...UPSTREAM_ERRORS.quota });
    await assert.rejects(
      client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.RateLimitError, String(error));
        assert.equal(error.status, 429);
        assert.equal(error.code, "insufficient_quota");
        return true;
      },
    );
  });

  it("maps a DashScope flat error to BadRequestError keeping its message", async () => {
    s.h.upstream.next({ kind: "error", ...UPSTREAM_ERRORS.flatDashScope });
    await assert.rejects(
      client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.BadRequestError, String(error));
        assert.equal(error.code, "InvalidParameter");
        assert.match(error.message, /Range of input length/);
        return true;
      },
    );
  });

  it("maps a wrong key to AuthenticationError", async () => {
    const wrong = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "nope", maxRetries: 0 });
    await assert.rejects(
      wrong.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.AuthenticationError, String(error));
        assert.equal(error.code, "invalid_api_key");
        return true;
      },
    );
  });

  it("surfaces a stream cut half way as an error, not as a complete answer", async () => {
    s.h.upstream.next({ kind: "ok", breakAfter: 1 });
    const stream = await client.chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    await assert.rejects(async () => {
      for await (const _ of stream) { /* drain */ }
    }, /upstream connection broke/);
  });
});

describe("serve: a model that thinks longer than Bun's default idle timeout", () => {
  let s: Awaited<ReturnType<typeof served>>;
  before(async () => (s = await served()));
  after(() => s.close());

  it("still delivers the answer after 11 s without a byte", { timeout: 30_000 }, async () => {
    s.h.upstream.next({ kind: "ok", firstByteDelayMs: 11_000 });
    const response = await fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...HELLO, stream: true }),
    });
    assert.equal(response.status, 200);
    const events = await sseEvents(response);
    assert.equal(events.at(-1), "[DONE]");
  });
});
