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
});
