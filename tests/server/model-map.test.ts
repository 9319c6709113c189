/**
 * Model names through `POST /v1/chat/completions` (docs/serve.md#model-names): Claude's names reach
 * the upstream as the provider's coding models, `--model-map` patterns come first, and a Qwen name
 * is forwarded byte for byte.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { accountOf } from "../../src/accounts/account.ts";
import { AccountPool } from "../../src/pool/pool.ts";
import { FakeTokenSource } from "./fake-token-source.ts";
import { type Harness, HELLO, setup, sseEvents } from "./harness.ts";

/** The model of the last body the upstream received. */
const sentModel = (h: Harness) => JSON.parse(h.upstream.chatRequests.at(-1)!.body).model;

async function ask(h: Harness, body: Record<string, unknown>): Promise<Response> {
  const response = await h.call("/v1/chat/completions", { json: body });
  assert.equal(response.status, 200);
  return response;
}

describe("serve app: Claude's model names on an OAuth account", () => {
  let h: Harness;
  before(async () => (h = await setup()));
  after(() => h.close());

  it("sends claude-* as the main coding model and keeps the rest of the body", async () => {
    const response = await ask(h, {
      ...HELLO,
      model: "claude-sonnet-4-5-20250929",
      temperature: 0.3,
    });
    await response.body?.cancel();
    const sent = JSON.parse(h.upstream.chatRequests.at(-1)!.body);
    assert.deepEqual(sent, { ...HELLO, model: "qwen3-coder-plus", temperature: 0.3 });
    assert.match(h.lines.at(-1) ?? "", /model=claude-sonnet-4-5-20250929 /);
  });

  it("sends Haiku as the fast one, streams included", async () => {
    const response = await ask(h, { ...HELLO, model: "claude-haiku-4-5-20251001", stream: true });
    assert.equal((await sseEvents(response)).at(-1), "[DONE]");
    assert.equal(sentModel(h), "qwen3-coder-flash");
  });

  it("forwards a Qwen name byte for byte", async () => {
    const raw = JSON.stringify({ ...HELLO, model: "qwen3-max" });
    const response = await h.call("/v1/chat/completions", {
      method: "POST",
      body: raw,
      headers: { "content-type": "application/json" },
    });
    await response.body?.cancel();
    assert.equal(h.upstream.chatRequests.at(-1)!.body, raw);
  });
});

describe("serve app: --model-map patterns", () => {
  let h: Harness;
  const tokens = new FakeTokenSource({ baseUrl: "http://127.0.0.1:9/v1" });
  const pool = new AccountPool({
    strategy: "fill-first",
    entries: [accountOf(tokens)],
    modelMap: {
      "claude-opus-4-1": "qwen3-coder-plus",
      "claude-*": "qwen3-max",
      "claude-opus-*": "never-reached",
      "gpt-*": "qwen3-coder-flash",
    },
  });
  before(async () => {
    h = await setup({ app: { pool } });
    tokens.baseUrl = h.baseUrl;
  });
  after(() => h.close());

  it("takes an exact name first, then the first pattern that matches", async () => {
    for (
      const [requested, sent] of [
        ["claude-opus-4-1", "qwen3-coder-plus"],
        ["claude-opus-5-5", "qwen3-max"],
        ["claude-haiku-4-5", "qwen3-max"],
        ["gpt-4o", "qwen3-coder-flash"],
        ["qwen3-coder-plus", "qwen3-coder-plus"],
      ]
    ) {
      const response = await ask(h, { ...HELLO, model: requested });
      await response.body?.cancel();
      assert.equal(sentModel(h), sent, requested);
    }
  });
});
