import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { isRefusal, probe, PROBE_RESULTS, type ProbeResultName } from "../../src/upstream/probe.ts";
import { SWITCH_COMMANDS } from "../../src/upstream/classify.ts";
import { nextBeijingMidnight } from "../../src/lib/time.ts";
import { EnvKeyTokenSource } from "../../src/accounts/api-key-source.ts";
import type { Fetch } from "../../src/lib/context.ts";
import type { TokenSource } from "../../src/credentials/types.ts";
import { QwenError } from "../../src/lib/errors.ts";
import {
  PROVIDER_ANSWERS,
  type RunningFakeUpstream,
  startFakeUpstream,
} from "../helpers/fake-upstream.ts";

const NOW = Date.UTC(2026, 4, 1, 10, 0, 0); // 18:00 in Beijing
const KEY = "sk-0123456789abcdef9f2c";

/** What the probe makes of one answer, through a probe call that gets it. */
function answer(
  status: number,
  body: string,
  kind: "oauth" | "api_key" = "api_key",
  headers: Record<string, string> = {},
  host = "dashscope-intl.aliyuncs.com",
) {
  const source = {
    account: "a",
    getToken: () => Promise.resolve({ token: KEY, baseUrl: `https://${host}/v1`, kind }),
    state: () => Promise.resolve({ state: "valid" as const }),
  };
  return probe({ source, model: "qwen3-coder-plus" }, {
    fetch: () => Promise.resolve(new Response(body, { status, headers })),
    userAgent: "qwen/test (linux; x64)",
    now: () => NOW,
  });
}

const OK_BODY = JSON.stringify({
  id: "c1",
  object: "chat.completion",
  choices: [{ index: 0, message: { role: "assistant", content: "O" }, finish_reason: "length" }],
});

describe("probe classification table", () => {
  const rows: [string, number, string, "oauth" | "api_key", ProbeResultName][] = [
    ["a chat completion", 200, OK_BODY, "api_key", "ok"],
    [
      "an OAuth token refused",
      401,
      PROVIDER_ANSWERS.oauthRefused.body,
      "oauth",
      "oauth_discontinued",
    ],
    [
      "a Coding Plan key wrong or expired",
      401,
      PROVIDER_ANSWERS.oauthRefused.body,
      "api_key",
      "invalid_key",
    ],
    ["a bad pay-as-you-go key", 401, PROVIDER_ANSWERS.invalidKey.body, "api_key", "invalid_key"],
    [
      "a key of another plan or region",
      403,
      PROVIDER_ANSWERS.wrongPlan.body,
      "api_key",
      "wrong_plan_or_region",
    ],
    [
      "a Coding Plan 405",
      405,
      PROVIDER_ANSWERS.codingPlanClient.body,
      "api_key",
      "coding_plan_client",
    ],
    ["arrears", 400, PROVIDER_ANSWERS.arrears.body, "api_key", "arrears"],
    ["insufficient_quota", 429, PROVIDER_ANSWERS.quota.body, "api_key", "quota"],
    [
      "Throttling.AllocationQuota on 403",
      403,
      PROVIDER_ANSWERS.allocationQuota.body,
      "api_key",
      "quota",
    ],
    ["a quota on the OAuth portal", 429, PROVIDER_ANSWERS.quota.body, "oauth", "quota"],
    ["a rate limit", 429, PROVIDER_ANSWERS.throttled.body, "api_key", "throttled"],
    ["an HTML 502", 502, PROVIDER_ANSWERS.serverError.body, "api_key", "upstream_error"],
    ["a 200 that is not a completion", 200, "<html>login</html>", "api_key", "upstream_error"],
    [
      "an unknown model",
      404,
      JSON.stringify({
        error: {
          message: "The model `x` does not exist",
          type: "invalid_request_error",
          param: null,
          code: "model_not_found",
        },
      }),
      "api_key",
      "upstream_error",
    ],
  ];
  for (const [what, status, body, kind, expected] of rows) {
    it(`classifies ${what} as ${expected}`, async () => {
      const outcome = await answer(status, body, kind);
      assert.equal(outcome.result, expected);
      assert.equal(outcome.status, status);
      assert.equal(outcome.refused, isRefusal(expected));
      assert.ok(outcome.message.length > 10);
    });
  }

  it("explains the OAuth discontinuation with the exact switch commands", async () => {
    const outcome = await answer(401, PROVIDER_ANSWERS.oauthRefused.body, "oauth");
    assert.match(outcome.message, /discontinued on 2026-04-15/);
    for (const command of SWITCH_COMMANDS) assert.ok(outcome.message.includes(command));
    assert.ok(outcome.message.includes("qwen auth --provider coding-plan"));
  });

  it("explains the Coding Plan rule, arrears and the other plan", async () => {
    assert.match(
      (await answer(405, PROVIDER_ANSWERS.codingPlanClient.body)).message,
      /coding tools/,
    );
    assert.match((await answer(400, PROVIDER_ANSWERS.arrears.body)).message, /in arrears/);
    assert.match(
      (await answer(403, PROVIDER_ANSWERS.wrongPlan.body)).message,
      /another plan or region/,
    );
  });

  it("gives a quota's reset time: Retry-After, else midnight Beijing time for a daily quota", async () => {
    // The OAuth portal's quota was daily; an API key's says so, or its reset is not known.
    const daily = await answer(429, PROVIDER_ANSWERS.quota.body, "oauth");
    assert.equal(daily.resetAt, Date.UTC(2026, 4, 1, 16, 0, 0));
    assert.match(daily.message, /resets at 2026-05-01T16:00:00\.000Z \(midnight Beijing time\)/);
    const saysDaily = await answer(
      429,
      '{"error":{"message":"You exceeded your daily quota","code":"insufficient_quota"}}',
    );
    assert.equal(saysDaily.resetAt, Date.UTC(2026, 4, 1, 16, 0, 0));
    const told = await answer(429, PROVIDER_ANSWERS.quota.body, "api_key", {
      "retry-after": "120",
    });
    assert.equal(told.resetAt, NOW + 120_000);
    const unknown = await answer(429, PROVIDER_ANSWERS.quota.body, "api_key");
    assert.equal(unknown.resetAt, null);
    assert.doesNotMatch(unknown.message, /resets at/);
    const throttled = await answer(429, PROVIDER_ANSWERS.throttled.body, "api_key", {
      "retry-after": "30",
    });
    assert.equal(throttled.resetAt, NOW + 30_000);
  });

  it("computes the next midnight in Beijing (UTC+8)", () => {
    assert.equal(nextBeijingMidnight(Date.UTC(2026, 4, 1, 15, 59)), Date.UTC(2026, 4, 1, 16, 0));
    assert.equal(nextBeijingMidnight(Date.UTC(2026, 4, 1, 16, 0)), Date.UTC(2026, 4, 2, 16, 0));
    assert.equal(nextBeijingMidnight(Date.UTC(2026, 4, 1, 0, 0)), Date.UTC(2026, 4, 1, 16, 0));
  });

  it("counts only upstream refusals as refused", () => {
    assert.deepEqual(PROBE_RESULTS.filter(isRefusal), [
      "oauth_discontinued",
      "invalid_key",
      "wrong_plan_or_region",
      "coding_plan_client",
      "arrears",
      "quota",
      "throttled",
    ]);
  });
});

describe("probe calls", () => {
  const deps = (fetch: Fetch): Parameters<typeof probe>[1] => ({
    fetch,
    userAgent: "qwen/test (linux; x64)",
    now: () => NOW,
  });
  const source = (baseUrl = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1") =>
    new EnvKeyTokenSource("env-dashscope", KEY, baseUrl);

  it("sends one 1-token chat call to the account's base URL only", async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const outcome = await probe(
      { source: source(), model: "qwen3-coder-plus" },
      deps((url, init) => {
        calls.push({ url: String(url), init: init! });
        return Promise.resolve(
          new Response(OK_BODY, { headers: { "content-type": "application/json" } }),
        );
      }),
    );
    assert.equal(outcome.result, "ok");
    assert.equal(calls.length, 1);
    assert.equal(
      calls[0].url,
      "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions",
    );
    assert.equal(calls[0].init.redirect, "manual");
    const body = JSON.parse(String(calls[0].init.body));
    assert.deepEqual(body, {
      model: "qwen3-coder-plus",
      messages: [{ role: "user", content: "Say OK." }],
      max_tokens: 1,
      stream: false,
    });
    const headers = calls[0].init.headers as Record<string, string>;
    assert.equal(headers.authorization, `Bearer ${KEY}`);
    assert.equal(headers["x-dashscope-cachecontrol"], "enable");
    assert.equal(headers["user-agent"], "qwen/test (linux; x64)");
  });

  it("does not follow a redirect that would carry the key elsewhere", async () => {
    const outcome = await probe(
      { source: source("http://127.0.0.1:9/v1"), model: "m" },
      deps(() =>
        Promise.resolve(
          new Response(null, {
            status: 302,
            headers: { location: "https://elsewhere.example/steal?k=1" },
          }),
        )
      ),
    );
    assert.equal(outcome.result, "upstream_error");
    assert.match(
      outcome.message,
      /redirected the call to "https:\/\/elsewhere\.example\/steal"; not followed/,
    );
  });

  it("reports an upstream that cannot be reached", async () => {
    const outcome = await probe(
      { source: source("http://127.0.0.1:9/v1"), model: "m" },
      deps(() => Promise.reject(new TypeError("connection refused"))),
    );
    assert.equal(outcome.result, "unreachable");
    assert.equal(outcome.status, null);
    assert.equal(outcome.refused, false);
    assert.match(outcome.message, /Cannot reach "127\.0\.0\.1:9": connection refused/);
  });

  it("gives up on an upstream that does not answer", async () => {
    const outcome = await probe(
      { source: source("http://127.0.0.1:9/v1"), model: "m" },
      {
        ...deps((_url, init) =>
          new Promise((_resolve, reject) => {
            init!.signal!.addEventListener("abort", () => reject(new Error("aborted")), {
              once: true,
            });
          })
        ),
        timeoutMs: 50,
      },
    );
    assert.equal(outcome.result, "unreachable");
    assert.match(outcome.message, /no answer within/);
  });

  it("reports credentials that cannot be used without calling anyone", async () => {
    let called = false;
    const broken: TokenSource = {
      account: "default",
      getToken: () =>
        Promise.reject(
          new QwenError('Qwen refused the login of account "default"', { code: "needs_login" }),
        ),
      state: () => Promise.resolve({ state: "needs_login" }),
    };
    const outcome = await probe(
      { source: broken, model: "coder-model" },
      deps(() => {
        called = true;
        return Promise.reject(new Error("no"));
      }),
    );
    assert.equal(called, false);
    assert.equal(outcome.result, "credentials_error");
    assert.equal(outcome.credentialsCode, "needs_login");
  });

  it("never repeats a key the upstream quotes back", async () => {
    const outcome = await probe(
      { source: source("http://127.0.0.1:9/v1"), model: "m" },
      deps(() =>
        Promise.resolve(
          Response.json({
            error: {
              message: `Incorrect API key provided: ${KEY}`,
              type: "x",
              param: null,
              code: "invalid_api_key",
            },
          }, { status: 401 }),
        )
      ),
    );
    assert.equal(outcome.result, "invalid_key");
    assert.ok(!outcome.message.includes(KEY));
    assert.match(outcome.message, /\[redacted\]/);
  });

  it("never repeats a key quoted back JSON-escaped, and reads a huge error body only in part", async () => {
    let pulled = 0;
    const filler = new TextEncoder().encode(" ".repeat(64 * 1024));
    const escaped = KEY.replace("-", "\\u002d");
    const head =
      `{"error":{"message":"Incorrect API key provided: ${escaped}","code":"invalid_api_key"}}`;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(head));
      },
      pull(controller) {
        // An error page that never ends: only its first 64 KiB may be read.
        pulled++;
        controller.enqueue(filler);
      },
    });
    const outcome = await probe(
      { source: source("http://127.0.0.1:9/v1"), model: "m" },
      deps(() => Promise.resolve(new Response(body, { status: 401 }))),
    );
    assert.equal(outcome.result, "invalid_key");
    assert.ok(!outcome.message.includes(KEY) && !outcome.message.includes(escaped));
    assert.ok(pulled <= 3, `read ${pulled} chunks of 64 KiB`);
  });
});

describe("probe against the fake provider", () => {
  let provider: RunningFakeUpstream;
  before(async () => {
    provider = await startFakeUpstream();
  });
  after(async () => {
    await provider.close();
  });

  it("classifies every fake answer per key, concurrently", async () => {
    const table: [string, keyof typeof PROVIDER_ANSWERS | null, ProbeResultName][] = [
      ["sk-good000000000001", null, "ok"],
      ["sk-bad0000000000002", "invalidKey", "invalid_key"],
      ["sk-plan000000000003", "wrongPlan", "wrong_plan_or_region"],
      ["sk-sp-agent00000004", "codingPlanClient", "coding_plan_client"],
      ["sk-owed000000000005", "arrears", "arrears"],
      ["sk-quota0000000006", "quota", "quota"],
      ["sk-slow0000000000007", "throttled", "throttled"],
    ];
    for (const [key, name] of table) {
      if (name) provider.fake.answer(key, PROVIDER_ANSWERS[name]);
    }
    const outcomes = await Promise.all(table.map(([key]) =>
      probe(
        { source: new EnvKeyTokenSource(key, key, provider.baseUrl), model: "qwen3-coder-plus" },
        { fetch: (url, init) => fetch(url, init), userAgent: "qwen/test", now: () => Date.now() },
      )
    ));
    assert.deepEqual(outcomes.map((o) => o.result), table.map(([, , expected]) => expected));
    for (const seen of provider.fake.requests) {
      assert.equal(seen.path, "/v1/chat/completions");
      assert.equal(JSON.parse(seen.body).max_tokens, 1);
      assert.equal(seen.headers.get("x-dashscope-cachecontrol"), null, "loopback is not Alibaba");
    }
  });
});
