import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { splitUrl } from "../../src/server/app.ts";

describe("splitUrl", () => {
  it("agrees with URL on the paths clients send", () => {
    for (
      const url of [
        "http://127.0.0.1:8080/v1/chat/completions",
        "http://localhost:8080/v1/models?limit=5&x=%20y",
        "http://[::1]:8080/health",
        "http://127.0.0.1:8080/",
        "http://127.0.0.1:8080/v1/../metrics",
        "http://127.0.0.1:8080/v1/%2e%2e/metrics",
        "http://127.0.0.1:8080/v1/./models?a=/b",
      ]
    ) {
      const parsed = new URL(url);
      assert.deepEqual(splitUrl(url), { path: parsed.pathname, search: parsed.search }, url);
    }
  });

  it("reads a relative URL (Bun's, for a request without Host) and any Host without throwing", () => {
    assert.deepEqual(splitUrl("/v1/models?limit=5"), { path: "/v1/models", search: "?limit=5" });
    assert.deepEqual(splitUrl("/health"), { path: "/health", search: "" });
    assert.deepEqual(splitUrl("/v1/%2e"), { path: "/v1/", search: "" });
    assert.deepEqual(splitUrl("//v1/x"), { path: "//v1/x", search: "" });
    assert.deepEqual(splitUrl("http://a:b:c/v1/%2e?q"), { path: "/v1/", search: "?q" });
    assert.deepEqual(splitUrl("http://[::1/v1/./models"), { path: "/v1/models", search: "" });
    assert.deepEqual(splitUrl("http://a b/v1\\models"), { path: "/v1/models", search: "" });
  });
});
