import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { resolveServeConfig } from "../../src/cli/serve-config.ts";
import { isLoopback } from "../../src/lib/net.ts";
import { UsageError } from "../../src/lib/errors.ts";

describe("serve config from flags and environment", () => {
  it("has the documented defaults", () => {
    assert.deepEqual(resolveServeConfig({}, {}), {
      host: "127.0.0.1",
      port: 8080,
      apiKeys: [],
      accounts: [],
      strategy: "round-robin",
      modelMap: {},
      allowHosts: [],
      corsOrigins: [],
      maxBodyBytes: 32 * 1024 * 1024,
      maxResponseBytes: 64 * 1024 * 1024,
      graceMs: 30_000,
      firstByteTimeoutMs: 300_000,
      idleTimeoutMs: 300_000,
      responsesStore: 1000,
      verbose: false,
      logFormat: "text",
    });
  });

  it("reads every option from QWEN_SERVE_* variables", () => {
    const config = resolveServeConfig({}, {
      QWEN_SERVE_HOST: "0.0.0.0",
      QWEN_SERVE_PORT: "9000",
      QWEN_SERVE_API_KEYS: "first-key-0123456, second-key-012345,,",
      QWEN_SERVE_ACCOUNTS: "work, home",
      QWEN_SERVE_STRATEGY: "fill-first",
      QWEN_SERVE_MODEL_MAP: "coder-model=qwen3-coder-flash, gpt-4o=qwen3-max",
      QWEN_SERVE_ALLOW_HOSTS: "proxy.lan",
      QWEN_SERVE_CORS_ORIGINS: "https://a.example,https://b.example",
      QWEN_SERVE_MAX_BODY: "1MiB",
      QWEN_SERVE_MAX_RESPONSE: "2MB",
      QWEN_SERVE_GRACE: "5",
      QWEN_SERVE_FIRST_BYTE_TIMEOUT: "600",
      QWEN_SERVE_IDLE_TIMEOUT: "1.5",
      QWEN_SERVE_RESPONSES_STORE: "0",
      QWEN_SERVE_VERBOSE: "true",
      QWEN_SERVE_LOG_FORMAT: "json",
    });
    assert.deepEqual(config, {
      host: "0.0.0.0",
      port: 9000,
      apiKeys: ["first-key-0123456", "second-key-012345"],
      accounts: ["work", "home"],
      strategy: "fill-first",
      modelMap: { "coder-model": "qwen3-coder-flash", "gpt-4o": "qwen3-max" },
      allowHosts: ["proxy.lan"],
      corsOrigins: ["https://a.example", "https://b.example"],
      maxBodyBytes: 1024 * 1024,
      maxResponseBytes: 2_000_000,
      graceMs: 5000,
      firstByteTimeoutMs: 600_000,
      idleTimeoutMs: 1500,
      responsesStore: 0,
      verbose: true,
      logFormat: "json",
    });
  });

  it("lets a flag replace its variable, lists included", () => {
    const config = resolveServeConfig(
      { port: "7000", "api-key": ["flag-key"], verbose: false },
      { QWEN_SERVE_PORT: "9000", QWEN_SERVE_API_KEYS: "env-key", QWEN_SERVE_VERBOSE: "1" },
    );
    assert.equal(config.port, 7000);
    assert.deepEqual(config.apiKeys, ["flag-key"]);
    assert.equal(config.verbose, false);
  });

  it("takes repeatable --account and --model-map, and the old QWEN_SERVE_ACCOUNT", () => {
    const config = resolveServeConfig(
      { account: ["a", "b", "a"], "model-map": ["coder-model=qwen3-max", "x = y"] },
      { QWEN_SERVE_ACCOUNTS: "c", QWEN_SERVE_MODEL_MAP: "p=q" },
    );
    assert.deepEqual(config.accounts, ["a", "b"]);
    assert.deepEqual(config.modelMap, { "coder-model": "qwen3-max", x: "y" });
    assert.deepEqual(resolveServeConfig({}, { QWEN_SERVE_ACCOUNT: "work" }).accounts, ["work"]);
  });

  it("takes --model-map patterns and keeps them in the order given", () => {
    const config = resolveServeConfig({
      "model-map": ["claude-*haiku*=qwen3-coder-flash", "gpt-4o=qwen3-max", "claude-*=qwen3-max"],
    }, {});
    assert.deepEqual(Object.entries(config.modelMap), [
      ["claude-*haiku*", "qwen3-coder-flash"],
      ["gpt-4o", "qwen3-max"],
      ["claude-*", "qwen3-max"],
    ]);
    // A pattern given again keeps its place and takes the new target.
    const env = { QWEN_SERVE_MODEL_MAP: "b*=x, a*=y, *=z, b*=w" };
    assert.deepEqual(Object.entries(resolveServeConfig({}, env).modelMap), [
      ["b*", "w"],
      ["a*", "y"],
      ["*", "z"],
    ]);
  });

  it("says where a * in a --model-map target is and what to write instead", () => {
    assert.throws(
      () => resolveServeConfig({ "model-map": ["coder-model=x", "claude-*=qwen*"] }, {}),
      (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.equal(
          error.message,
          'Invalid value "claude-*=qwen*" for "--model-map": TO "qwen*" contains "*", which only ' +
            "FROM may hold: name one model, e.g. claude-*=qwen3-coder-plus",
        );
        return true;
      },
    );
  });

  it("takes PORT when QWEN_SERVE_PORT is not set", () => {
    assert.equal(resolveServeConfig({}, { PORT: "3000" }).port, 3000);
    assert.equal(resolveServeConfig({}, { PORT: "3000", QWEN_SERVE_PORT: "4000" }).port, 4000);
  });

  it("understands sizes with units", () => {
    const size = (text: string) => resolveServeConfig({ "max-body": text }, {}).maxBodyBytes;
    assert.equal(size("1024"), 1024);
    assert.equal(size("32MiB"), 32 * 1024 ** 2);
    assert.equal(size("500KB"), 500_000);
    assert.equal(size("1.5 GiB"), 1.5 * 1024 ** 3);
  });

  for (
    const [flags, env, pattern] of [
      [{ port: "http" }, {}, /Invalid value "http" for "--port": expected a port/],
      [{}, { QWEN_SERVE_PORT: "70000" }, /"QWEN_SERVE_PORT"/],
      [{ "max-body": "lots" }, {}, /"--max-body": expected bytes/],
      [{ "max-body": "0" }, {}, /"--max-body"/],
      [{ "max-response": "huge" }, {}, /"--max-response": expected bytes/],
      [{ grace: "-1" }, {}, /"--grace"/],
      [{ "idle-timeout": "0" }, {}, /"--idle-timeout": expected at least 1 s/],
      [{ "log-format": "xml" }, {}, /"--log-format": expected "text" or "json"/],
      [{}, { QWEN_SERVE_VERBOSE: "maybe" }, /"QWEN_SERVE_VERBOSE"/],
      [{ strategy: "random" }, {}, /"--strategy": expected "round-robin" or "fill-first"/],
      [{ "model-map": ["coder-model"] }, {}, /"--model-map": expected FROM=TO/],
      [{}, { QWEN_SERVE_MODEL_MAP: "a=b=c" }, /"QWEN_SERVE_MODEL_MAP"/],
      [{}, { QWEN_SERVE_MODEL_MAP: "x=y, gpt-*=*" }, /"gpt-\*=\*" for "QWEN_SERVE_MODEL_MAP"/],
      [{ account: ["../x"] }, {}, /"--account": expected an account name/],
      [
        { host: "0.0.0.0" },
        {},
        /^Refusing to listen on "0\.0\.0\.0" without an API key.*--api-key.*QWEN_SERVE_API_KEYS/,
      ],
      [{}, { QWEN_SERVE_HOST: "[::]" }, /^Refusing to listen on "::"/],
    ] as const
  ) {
    it(`refuses ${JSON.stringify({ ...flags, ...env })} as a usage error`, () => {
      assert.throws(() => resolveServeConfig(flags, env), (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, pattern);
        return true;
      });
    });
  }

  it("wants keys of 16 characters or more on a public bind, and says why", () => {
    for (
      const [flags, env] of [
        [{ host: "0.0.0.0", "api-key": ["k"] }, {}],
        [{ host: "192.168.1.2", "api-key": ["long-enough-key-0001", "short-key-12345"] }, {}],
        [{}, { QWEN_SERVE_HOST: "::", QWEN_SERVE_API_KEYS: "long-enough-key-0001,abc" }],
      ] as const
    ) {
      assert.throws(() => resolveServeConfig(flags, env), (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, /^Refusing to listen on ".+" with an API key shorter than 16/);
        assert.match(error.message, /guess/);
        for (const key of ["k", "short-key-12345", "abc"]) {
          assert.ok(!error.message.includes(`"${key}"`), error.message);
        }
        return true;
      });
    }
    // Exactly 16 passes; on loopback any length does.
    const key16 = "0123456789abcdef";
    assert.deepEqual(resolveServeConfig({ host: "0.0.0.0", "api-key": [key16] }, {}).apiKeys, [
      key16,
    ]);
    assert.deepEqual(resolveServeConfig({ "api-key": ["k"] }, {}).apiKeys, ["k"]);
  });

  it("takes the example keys of the README and docs on a public bind", async () => {
    const keys = new Set<string>();
    for (const file of ["README.md", "docs/clients.md", "docs/serve.md"]) {
      const text = await readFile(file, "utf8");
      for (const match of text.matchAll(/change-me[\w-]*/g)) keys.add(match[0]);
    }
    assert.ok(keys.size >= 2, [...keys].join());
    const config = resolveServeConfig({ host: "0.0.0.0", "api-key": [...keys] }, {});
    assert.deepEqual(config.apiKeys, [...keys]);
  });

  it("never echoes an API key in an error", () => {
    assert.throws(() => resolveServeConfig({ "api-key": ["  "] }, {}), (error: unknown) => {
      assert.ok(!(error as Error).message.includes('"  "'));
      return true;
    });
  });

  it("knows loopback addresses", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1"]) {
      assert.equal(isLoopback(host), true, host);
    }
    for (const host of ["0.0.0.0", "::", "192.168.1.2", "example.com"]) {
      assert.equal(isLoopback(host), false, host);
    }
  });
});
