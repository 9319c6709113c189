import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { baseUrlFromResourceUrl } from "../../src/credentials/base-url.ts";

describe("baseUrlFromResourceUrl", () => {
  it("prefixes https:// and appends /v1 to a bare host", () => {
    assert.equal(baseUrlFromResourceUrl("portal.qwen.ai"), "https://portal.qwen.ai/v1");
  });

  it("keeps a URL that already ends in /v1", () => {
    assert.equal(baseUrlFromResourceUrl("https://portal.qwen.ai/v1"), "https://portal.qwen.ai/v1");
    assert.equal(baseUrlFromResourceUrl("portal.qwen.ai/v1"), "https://portal.qwen.ai/v1");
  });

  it("keeps an http:// scheme (loopback in tests)", () => {
    assert.equal(baseUrlFromResourceUrl("http://127.0.0.1:8080"), "http://127.0.0.1:8080/v1");
  });

  it("drops trailing slashes before deciding", () => {
    assert.equal(baseUrlFromResourceUrl("https://portal.qwen.ai/"), "https://portal.qwen.ai/v1");
    assert.equal(baseUrlFromResourceUrl("portal.qwen.ai/v1/"), "https://portal.qwen.ai/v1");
  });

  it("appends /v1 after a path", () => {
    assert.equal(
      baseUrlFromResourceUrl("dashscope.aliyuncs.com/compatible-mode"),
      "https://dashscope.aliyuncs.com/compatible-mode/v1",
    );
  });

  it("falls back to DashScope when absent or blank", () => {
    const fallback = "https://dashscope.aliyuncs.com/compatible-mode/v1";
    assert.equal(baseUrlFromResourceUrl(undefined), fallback);
    assert.equal(baseUrlFromResourceUrl(""), fallback);
    assert.equal(baseUrlFromResourceUrl("   "), fallback);
  });
});
