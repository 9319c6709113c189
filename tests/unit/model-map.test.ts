/**
 * The model an account sends for a requested name (docs/serve.md#model-names): exact names, then
 * `--model-map` patterns in order, then Claude's names per provider; anything else passes.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { accountOf, listAccounts } from "../../src/accounts/account.ts";
import { ModelMap } from "../../src/accounts/model-map.ts";
import {
  type CoderModels,
  DEFAULT_MODEL_MAP,
  OAUTH_CODER_MODELS,
  PRESET_NAMES,
  PRESETS,
} from "../../src/accounts/providers.ts";
import type { TokenSource } from "../../src/credentials/types.ts";
import { type TempHomes, tempHomes } from "../helpers/temp-homes.ts";

const ALIBABA: CoderModels = { main: "qwen3-coder-plus", fast: "qwen3-coder-flash" };
const SONNET = "claude-sonnet-4-5-20250929";
const OPUS = "claude-opus-5-5";
const HAIKU = "claude-haiku-4-5-20251001";

const map = (overrides: Record<string, string> = {}, own = DEFAULT_MODEL_MAP, coder = ALIBABA) =>
  new ModelMap(own, overrides, coder);

/** A token source that is never asked for a token. */
const idle = (account: string): TokenSource => ({
  account,
  getToken: () => Promise.reject(new Error("not in this test")),
  state: () => Promise.resolve({ state: "valid" as const }),
});

describe("ModelMap", () => {
  it("maps Claude's names to the provider's coding models, Haiku to the fast one", () => {
    const m = map();
    assert.equal(m.get(SONNET), "qwen3-coder-plus");
    assert.equal(m.get(OPUS), "qwen3-coder-plus");
    assert.equal(m.get("claude-3-7-sonnet-latest"), "qwen3-coder-plus");
    assert.equal(m.get(HAIKU), "qwen3-coder-flash");
    assert.equal(m.get("claude-3-5-haiku-20241022"), "qwen3-coder-flash");
    assert.equal(m.get("claude-haiku"), "qwen3-coder-flash");
  });

  it("sends Qwen names and look-alikes of Claude's as they are", () => {
    const m = map();
    for (
      const name of [
        "qwen3-coder-plus",
        "qwen3-max",
        "qwen/qwen3-coder-flash",
        "claude",
        "claudehaiku",
        "Claude-sonnet-4-5",
        "CLAUDE-HAIKU-4-5",
        "my-claude-sonnet",
        "",
        "constructor",
        "__proto__",
        "toString",
      ]
    ) {
      assert.equal(m.get(name), undefined, name);
    }
  });

  it("keeps the account's own names, with exact --model-map entries on top", () => {
    const m = map({ "coder-model": "qwen3-coder-flash", "gpt-4o": "qwen3-max" });
    assert.equal(m.get("coder-model"), "qwen3-coder-flash");
    assert.equal(m.get("vision-model"), "qwen3-vl-plus");
    assert.equal(m.get("gpt-4o"), "qwen3-max");
    assert.deepEqual([...m.keys()], ["coder-model", "vision-model", "gpt-4o"]);
    assert.deepEqual([...m.values()], ["qwen3-coder-flash", "qwen3-vl-plus", "qwen3-max"]);
  });

  it("lets an exact name beat any pattern, given before or after it", () => {
    const m = map({
      "claude-*": "qwen3-max",
      [SONNET]: "qwen3-coder-flash",
      "coder-*": "qwen-turbo",
    });
    assert.equal(m.get(SONNET), "qwen3-coder-flash");
    assert.equal(m.get(OPUS), "qwen3-max");
    assert.equal(m.get("coder-model"), "qwen3-coder-plus");
    assert.equal(m.get("coder-x"), "qwen-turbo");
    // A pattern names no model: /v1/models lists the exact names only.
    assert.deepEqual([...m.keys()], ["coder-model", "vision-model", SONNET]);
  });

  it("tries the patterns in the order given, before Claude's own", () => {
    const first = map({ "claude-*": "qwen3-max", "claude-*haiku*": "qwen-turbo" });
    assert.equal(first.get(HAIKU), "qwen3-max");
    assert.equal(first.get(SONNET), "qwen3-max");
    const second = map({ "claude-*haiku*": "qwen-turbo", "claude-*": "qwen3-max" });
    assert.equal(second.get(HAIKU), "qwen-turbo");
    assert.equal(second.get(SONNET), "qwen3-max");
    const some = map({ "claude-opus-*": "qwen3-max" });
    assert.equal(some.get(OPUS), "qwen3-max");
    assert.equal(some.get(SONNET), "qwen3-coder-plus");
    assert.equal(some.get(HAIKU), "qwen3-coder-flash");
  });

  it("matches * to any run of characters, none included", () => {
    const cases: [pattern: string, name: string, matches: boolean][] = [
      ["*", "", true],
      ["*", "anything at all", true],
      ["a*", "a", true],
      ["*a", "a", true],
      ["a*a", "a", false],
      ["a*a", "aa", true],
      ["a*b*c", "abc", true],
      ["a*b*c", "axxbyyc", true],
      ["a*b*c", "acb", false],
      ["a*b*c", "abcb", false],
      ["*ab*ab*", "abab", true],
      ["*ab*ab*", "aba", false],
      ["a**b", "ab", true],
      ["*-mini", "gpt-4o-mini", true],
      ["*-mini", "gpt-4o-mini-2024", false],
      ["gpt-*-mini*", "gpt-4o-mini-2024", true],
    ];
    for (const [pattern, name, matches] of cases) {
      assert.equal(map({ [pattern]: "hit" }).get(name) === "hit", matches, `${pattern} ~ ${name}`);
    }
  });

  it("takes every other character literally, regular-expression ones included", () => {
    const m = map({ "gpt-4.1*": "a", "o1+*": "b", "what?*": "c", "(x|y)*": "d", "[ab]*": "e" });
    assert.equal(m.get("gpt-4.1-mini"), "a");
    assert.equal(m.get("gpt-4x1-mini"), undefined);
    assert.equal(m.get("o1+preview"), "b");
    assert.equal(m.get("o11preview"), undefined);
    assert.equal(m.get("what?"), "c");
    assert.equal(m.get("wha"), undefined);
    assert.equal(m.get("(x|y)z"), "d");
    assert.equal(m.get("xz"), undefined);
    assert.equal(m.get("[ab]c"), "e");
    assert.equal(m.get("ac"), undefined);
    assert.equal(map({ "a.b": "exact" }).get("axb"), undefined);
  });

  it("matches case for case", () => {
    const m = map({ "GPT-*": "qwen3-max" });
    assert.equal(m.get("GPT-4o"), "qwen3-max");
    assert.equal(m.get("gpt-4o"), undefined);
  });

  it("stays fast on a long name that nearly matches many pieces", () => {
    const m = map({ "*a*a*a*a*a*a*a*a*b": "hit" });
    const name = "a".repeat(100_000);
    const started = performance.now();
    assert.equal(m.get(name), undefined);
    assert.equal(m.get(`${name}b`), "hit");
    assert.ok(performance.now() - started < 1000);
  });
});

describe("Claude's names per provider", () => {
  const expected: Record<string, CoderModels> = {
    "coding-plan": ALIBABA,
    "coding-plan-cn": ALIBABA,
    "token-plan": ALIBABA,
    "token-plan-cn": ALIBABA,
    "dashscope": ALIBABA,
    "dashscope-cn": ALIBABA,
    "dashscope-us": ALIBABA,
    "openrouter": { main: "qwen/qwen3-coder-plus", fast: "qwen/qwen3-coder-flash" },
    "custom": { main: "qwen3-coder-plus", fast: "qwen3-coder-plus" },
  };

  it("names a main and a fast coding model for every preset", () => {
    assert.deepEqual(Object.keys(expected), [...PRESET_NAMES]);
    for (const name of PRESET_NAMES) {
      assert.deepEqual(PRESETS[name].coderModels, expected[name], name);
      const m = map({}, PRESETS[name].modelMap, PRESETS[name].coderModels);
      assert.equal(m.get(SONNET), expected[name].main, name);
      assert.equal(m.get(HAIKU), expected[name].fast, name);
    }
  });

  it("gives OAuth accounts the portal's pair, and a key of unknown preset Alibaba's", () => {
    assert.deepEqual(OAUTH_CODER_MODELS, ALIBABA);
    assert.deepEqual(accountOf(idle("default")).coderModels, ALIBABA);
    assert.deepEqual(accountOf(idle("k"), { type: "api_key" }).coderModels, ALIBABA);
  });

  describe("listed accounts", () => {
    let homes: TempHomes;
    before(async () => (homes = await tempHomes()));
    after(() => homes.cleanup());

    it("take their provider's pair: an OpenRouter key gets the qwen/ names", async () => {
      const accounts = await listAccounts(
        await homes.fresh(),
        { OPENROUTER_API_KEY: "sk-or-v1-0123456789abcdef", DASHSCOPE_API_KEY: "sk-0123456789ab" },
        { oauthBaseUrl: "http://127.0.0.1:9", fetch: () => Promise.reject(new Error("offline")) },
      );
      const byName = Object.fromEntries(accounts.map((a) => [a.name, a.coderModels]));
      assert.deepEqual(byName, {
        "env-dashscope": ALIBABA,
        "env-openrouter": expected.openrouter,
      });
    });
  });
});
