import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_MODEL_MAP,
  fingerprint,
  isAlibabaHost,
  keyProblem,
  normalizeBaseUrl,
  PRESET_NAMES,
  presetFor,
  PRESETS,
  resolveBaseUrl,
} from "../../src/accounts/providers.ts";
import { listEnvAccounts } from "../../src/accounts/env-accounts.ts";
import { QwenError } from "../../src/lib/errors.ts";

describe("provider presets", () => {
  it("resolves each preset to its base URL (docs/upstream.md#api-key-providers)", () => {
    const expected: Record<string, string> = {
      "coding-plan": "https://coding-intl.dashscope.aliyuncs.com/v1",
      "coding-plan-cn": "https://coding.dashscope.aliyuncs.com/v1",
      "token-plan": "https://token-plan.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1",
      "token-plan-cn": "https://token-plan.cn-beijing.maas.aliyuncs.com/compatible-mode/v1",
      "dashscope": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
      "dashscope-cn": "https://dashscope.aliyuncs.com/compatible-mode/v1",
      "dashscope-us": "https://dashscope-us.aliyuncs.com/compatible-mode/v1",
      "openrouter": "https://openrouter.ai/api/v1",
    };
    for (const name of PRESET_NAMES) {
      if (name === "custom") continue;
      assert.equal(resolveBaseUrl(presetFor(name)), expected[name], name);
    }
    assert.equal(Object.keys(expected).length + 1, PRESET_NAMES.length);
  });

  it("needs --base-url for custom, and lets it override any preset", () => {
    assert.throws(() => resolveBaseUrl(PRESETS.custom), (e: QwenError) => {
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /Provider "custom" needs "--base-url URL"/);
      return true;
    });
    assert.equal(resolveBaseUrl(PRESETS.custom, "http://127.0.0.1:8/v1"), "http://127.0.0.1:8/v1");
    assert.equal(
      resolveBaseUrl(PRESETS.dashscope, "https://gateway.example/v1"),
      "https://gateway.example/v1",
    );
  });

  it("refuses an unknown preset with the list of presets", () => {
    assert.throws(
      () => presetFor("bailian"),
      /Unknown provider "bailian": use one of "coding-plan"/,
    );
  });

  it("names the official key variables and their base URL overrides", () => {
    assert.equal(PRESETS["coding-plan"].keyEnv, "BAILIAN_CODING_PLAN_API_KEY");
    assert.equal(PRESETS["coding-plan-cn"].keyEnv, "BAILIAN_CODING_PLAN_API_KEY");
    assert.equal(PRESETS["token-plan"].keyEnv, "BAILIAN_TOKEN_PLAN_API_KEY");
    assert.equal(PRESETS.dashscope.keyEnv, "DASHSCOPE_API_KEY");
    assert.equal(PRESETS["dashscope-us"].keyEnv, "DASHSCOPE_API_KEY");
    assert.equal(PRESETS.openrouter.keyEnv, "OPENROUTER_API_KEY");
    assert.equal(PRESETS.dashscope.baseUrlEnv, "DASHSCOPE_BASE_URL");
    assert.equal(PRESETS.custom.keyEnv, undefined);
  });

  it("maps the OAuth model names to real models", () => {
    assert.deepEqual(DEFAULT_MODEL_MAP, {
      "coder-model": "qwen3-coder-plus",
      "vision-model": "qwen3-vl-plus",
    });
    assert.equal(PRESETS["coding-plan"].modelMap["coder-model"], "qwen3-coder-plus");
  });

  it("tells Alibaba hosts apart (X-DashScope-CacheControl)", () => {
    assert.equal(isAlibabaHost(PRESETS["coding-plan"].baseUrl!), true);
    assert.equal(isAlibabaHost(PRESETS["token-plan-cn"].baseUrl!), true);
    assert.equal(isAlibabaHost(PRESETS.dashscope.baseUrl!), true);
    assert.equal(isAlibabaHost(PRESETS.openrouter.baseUrl!), false);
    assert.equal(isAlibabaHost("http://127.0.0.1:9/v1"), false);
    assert.equal(isAlibabaHost("https://evil-aliyuncs.com/v1"), false);
  });
});

describe("API keys", () => {
  it("requires sk-sp- for Coding Plan keys", () => {
    assert.match(keyProblem(PRESETS["coding-plan"], "sk-abcdef123456")!, /start with "sk-sp-"/);
    assert.match(keyProblem(PRESETS["coding-plan-cn"], "abc123456789")!, /start with "sk-sp-"/);
    assert.equal(keyProblem(PRESETS["coding-plan"], "sk-sp-abcdef123456"), undefined);
    assert.equal(keyProblem(PRESETS.dashscope, "sk-abcdef123456"), undefined);
  });

  it("refuses empty keys, keys with whitespace or control characters, and stubs", () => {
    assert.match(keyProblem(PRESETS.dashscope, "")!, /empty/);
    assert.match(keyProblem(PRESETS.dashscope, "sk-abc def12345")!, /whitespace/);
    assert.match(keyProblem(PRESETS.dashscope, "sk-abc\tdef12345")!, /whitespace/);
    assert.match(keyProblem(PRESETS.dashscope, "sk-abc\u0000def12345")!, /control/);
    assert.match(keyProblem(PRESETS.dashscope, "sk-1")!, /too short/);
  });

  it("fingerprints a key with its prefix and last four characters only", () => {
    assert.equal(fingerprint("sk-sp-0123456789abcdef9f2c"), "sk-sp-…9f2c");
    assert.equal(fingerprint("sk-0123456789abcdef1234"), "sk-…1234");
    assert.equal(fingerprint("sk-or-v1-0123456789abcdefabcd"), "sk-or-v1-…abcd");
    assert.equal(fingerprint("plainkey0123456789"), "…6789");
    assert.ok(!fingerprint("sk-secretsecret0000").includes("secret"));
  });

  it("accepts only plain http(s) base URLs and drops the trailing slash", () => {
    assert.equal(normalizeBaseUrl("http://127.0.0.1:8080/v1/", "x"), "http://127.0.0.1:8080/v1");
    assert.throws(() => normalizeBaseUrl("ftp://h/v1", "the flag"), /Invalid base URL "ftp/);
    assert.throws(() => normalizeBaseUrl("not a url", "the flag"), /expected an http\(s\) URL/);
    assert.throws(() => normalizeBaseUrl("https://u:p@h/v1", "the flag"), /credentials/);
  });
});

describe("environment accounts", () => {
  it("forms env-<preset> accounts from the official variables, international region", () => {
    const accounts = listEnvAccounts({
      BAILIAN_CODING_PLAN_API_KEY: "sk-sp-coding0000001",
      BAILIAN_TOKEN_PLAN_API_KEY: "sk-token00000002",
      DASHSCOPE_API_KEY: " sk-dash00000003\n",
      OPENROUTER_API_KEY: "sk-or-v1-router00004",
    });
    assert.deepEqual(accounts.map((a) => [a.name, a.provider, a.envVar, a.baseUrl]), [
      [
        "env-coding-plan",
        "coding-plan",
        "BAILIAN_CODING_PLAN_API_KEY",
        "https://coding-intl.dashscope.aliyuncs.com/v1",
      ],
      [
        "env-token-plan",
        "token-plan",
        "BAILIAN_TOKEN_PLAN_API_KEY",
        "https://token-plan.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1",
      ],
      [
        "env-dashscope",
        "dashscope",
        "DASHSCOPE_API_KEY",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
      ],
      ["env-openrouter", "openrouter", "OPENROUTER_API_KEY", "https://openrouter.ai/api/v1"],
    ]);
    assert.equal(accounts[2].key, "sk-dash00000003", "trimmed (EnvironmentFile newlines)");
  });

  it("applies the *_BASE_URL overrides", () => {
    const [a, b, c, d] = listEnvAccounts({
      BAILIAN_CODING_PLAN_API_KEY: "sk-sp-coding0000001",
      BAILIAN_CODING_PLAN_BASE_URL: "http://127.0.0.1:1/v1",
      BAILIAN_TOKEN_PLAN_API_KEY: "sk-token00000002",
      BAILIAN_TOKEN_PLAN_BASE_URL: "http://127.0.0.1:2/v1/",
      DASHSCOPE_API_KEY: "sk-dash00000003",
      DASHSCOPE_BASE_URL: "https://dashscope.aliyuncs.com/compatible-mode/v1",
      OPENROUTER_API_KEY: "sk-or-v1-router00004",
      OPENROUTER_BASE_URL: "http://127.0.0.1:4/api/v1",
    });
    assert.equal(a.baseUrl, "http://127.0.0.1:1/v1");
    assert.equal(b.baseUrl, "http://127.0.0.1:2/v1");
    assert.equal(c.baseUrl, "https://dashscope.aliyuncs.com/compatible-mode/v1");
    assert.equal(d.baseUrl, "http://127.0.0.1:4/api/v1");
  });

  it("ignores blank variables and reports malformed keys without the key", () => {
    assert.deepEqual(listEnvAccounts({ DASHSCOPE_API_KEY: "  " }), []);
    const [bad] = listEnvAccounts({ BAILIAN_CODING_PLAN_API_KEY: "sk-notcodingplan1" });
    assert.equal(bad.name, "env-coding-plan");
    assert.match(bad.problem!, /start with "sk-sp-".*BAILIAN_CODING_PLAN_API_KEY/);
    assert.ok(!bad.problem!.includes("notcodingplan"));
    const [badUrl] = listEnvAccounts({
      DASHSCOPE_API_KEY: "sk-dash00000003",
      DASHSCOPE_BASE_URL: "nope",
    });
    assert.match(badUrl.problem!, /Invalid base URL "nope" in the variable "DASHSCOPE_BASE_URL"/);
  });
});
