import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { QwenError } from "../../src/lib/errors.ts";
import { classifyAnswer } from "../../src/upstream/classify.ts";
import { DEFAULT_RETRY_POLICY, retryDelay } from "../../src/upstream/retry.ts";
import { parseRetryAfter } from "../../src/lib/time.ts";
import { UPSTREAM_ERRORS } from "../helpers/fake-upstream.ts";
import { type Harness, HELLO, resetHealth, setup, sseEvents } from "./harness.ts";
import { waitFor } from "../helpers/wait-for.ts";

const KEY = { kind: "api_key", now: 0 } as const;
const parseUpstreamError = (status: number, text: string) =>
  classifyAnswer(status, new Headers(), text, KEY);

describe("upstream error bodies", () => {
  it("passes an OpenAI-shaped error through unchanged", () => {
    const e = parseUpstreamError(429, UPSTREAM_ERRORS.quota.body);
    assert.equal(e.body, UPSTREAM_ERRORS.quota.body);
    assert.equal(e.failure, "quota");
  });

  it("rewrites DashScope's flat {code, message} keeping message and code", () => {
    const e = parseUpstreamError(400, UPSTREAM_ERRORS.flatDashScope.body);
    assert.deepEqual(JSON.parse(e.body), {
      error: {
        message: "Range of input length should be [1, 98304]",
        type: "invalid_request_error",
        param: null,
        code: "InvalidParameter",
      },
    });
    assert.equal(e.failure, "request");
  });

  it("rewrites a bare-string error", () => {
    const e = parseUpstreamError(405, UPSTREAM_ERRORS.bareString.body);
    const body = JSON.parse(e.body);
    assert.equal(body.error.message, "Coding Plan is currently only available for Coding Agents");
    assert.equal(body.error.code, null);
    assert.ok("param" in body.error && "type" in body.error);
  });

  it("rewrites an HTML page into a message naming the status", () => {
    const e = parseUpstreamError(502, UPSTREAM_ERRORS.html.body);
    const body = JSON.parse(e.body);
    assert.match(body.error.message, /502.*HTML/);
    assert.equal(body.error.type, "api_error");
    assert.equal(e.failure, "server");
  });

  it("completes an OpenAI-like error that lacks param (the portal's 401)", () => {
    const e = parseUpstreamError(401, UPSTREAM_ERRORS.invalidToken.body);
    const body = JSON.parse(e.body);
    assert.equal(body.error.message, "invalid access token or token expired");
    assert.equal(body.error.code, "invalid_api_key");
    assert.equal(body.error.type, "invalid_request_error");
    assert.equal(body.error.param, null);
    assert.equal(e.failure, "invalid_credentials");
  });

  it("tells throttling from quota, 403 quota from 403 auth from other 403s, and 504 from 5xx", () => {
    assert.equal(parseUpstreamError(429, UPSTREAM_ERRORS.throttling.body).failure, "throttled");
    assert.equal(
      parseUpstreamError(429, '{"code":"Throttling.AllocationQuota","message":"x"}').failure,
      "quota",
    );
    assert.equal(
      parseUpstreamError(403, '{"error":{"message":"Free allocated quota exceeded."}}').failure,
      "quota",
    );
    assert.equal(
      parseUpstreamError(403, '{"error":"invalid api-key"}').failure,
      "wrong_plan_or_region",
    );
    // A bare 403 does not blame the credentials: the account stays in service.
    assert.equal(parseUpstreamError(403, '{"error":{"message":"Forbidden"}}').failure, "no_access");
    assert.equal(
      parseUpstreamError(403, '{"error":{"message":"Invalid access token"}}').failure,
      "invalid_credentials",
    );
    assert.equal(parseUpstreamError(504, "").failure, "timeout");
    assert.equal(parseUpstreamError(503, "").failure, "server");
    assert.equal(parseUpstreamError(400, '{"code":"Arrearage","message":"x"}').failure, "arrears");
  });
});

describe("retry back-off", () => {
  const policy = { ...DEFAULT_RETRY_POLICY, random: () => 1 };

  it("grows exponentially up to the cap", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((n) => retryDelay(policy, n, null, 0)),
      [500, 1000, 2000, 4000, 8000, 8000],
    );
  });

  it("honours Retry-After in seconds and as a date, and gives up on long ones", () => {
    assert.equal(parseRetryAfter("2", 0), 2000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6000);
    assert.equal(retryDelay({ ...policy, random: () => 0 }, 0, "2", 0), 2000);
    assert.equal(retryDelay(policy, 0, "3600", 0), undefined);
  });
});

describe("serve app: upstream failures", () => {
  let h: Harness;
  before(async () => (h = await setup()));
  after(() => h.close());
  // A quota answer cools the one account down and a refused key rejects it: start each test fresh.
  beforeEach(() => resetHealth(h.pool));

  async function chat(body: unknown = HELLO) {
    const response = await h.call("/v1/chat/completions", { json: body });
    return { response, json: await response.json() };
  }

  it("keeps the upstream status, message and code of non-OpenAI errors", async () => {
    h.upstream.next({ kind: "error", ...UPSTREAM_ERRORS.flatDashScope });
    const { response, json } = await chat();
    assert.equal(response.status, 400);
    assert.equal(json.error.code, "InvalidParameter");
    assert.match(json.error.message, /Range of input length/);
    assert.match(h.lines.at(-1)!, /400 .*upstream=400.*error="Range of input length/);
  });

  it("retries throttling with back-off honouring Retry-After, then succeeds", async () => {
    h.sleeps.length = 0;
    const calls = h.upstream.chatRequests.length;
    h.upstream.next(
      { kind: "error", ...UPSTREAM_ERRORS.throttling, headers: { "retry-after": "1" } },
      { kind: "error", ...UPSTREAM_ERRORS.throttling },
    );
    const { response, json } = await chat();
    assert.equal(response.status, 200);
    assert.equal(json.choices[0].message.content, "Hello!");
    assert.equal(h.upstream.chatRequests.length - calls, 3);
    assert.equal(h.sleeps.length, 2);
    assert.ok(h.sleeps[0] >= 1000, `first wait ${h.sleeps[0]} honours Retry-After`);
    assert.match(h.lines.at(-1)!, /retries=2/);
  });

  it("gives up after the retry limit with the upstream's last error", async () => {
    const calls = h.upstream.chatRequests.length;
    for (let i = 0; i < 5; i++) h.upstream.next({ kind: "error", ...UPSTREAM_ERRORS.html });
    const { response, json } = await chat();
    assert.equal(response.status, 502);
    assert.match(json.error.message, /HTML/);
    assert.equal(h.upstream.chatRequests.length - calls, 1 + DEFAULT_RETRY_POLICY.maxRetries);
    // Clear what the limit left queued.
    while (h.upstream.chatRequests.length - calls < 5) await chat();
  });

  it("retries 500 and 503", async () => {
    const calls = h.upstream.chatRequests.length;
    h.upstream.next(
      { kind: "error", status: 500, body: '{"code":"InternalError","message":"boom"}' },
      { kind: "error", status: 503, body: "" },
    );
    const { response } = await chat();
    assert.equal(response.status, 200);
    assert.equal(h.upstream.chatRequests.length - calls, 3);
  });

  it("does not retry a quota error and says so clearly", async () => {
    const calls = h.upstream.chatRequests.length;
    h.upstream.next({ kind: "error", ...UPSTREAM_ERRORS.quota });
    const { response, json } = await chat();
    assert.equal(response.status, 429);
    assert.equal(json.error.code, "insufficient_quota");
    assert.equal(h.upstream.chatRequests.length - calls, 1);
  });

  it("does not retry a 504", async () => {
    const calls = h.upstream.chatRequests.length;
    h.upstream.next({ kind: "error", ...UPSTREAM_ERRORS.gatewayTimeout });
    const { response, json } = await chat();
    assert.equal(response.status, 504);
    assert.equal(json.error.type, "api_error");
    assert.equal(h.upstream.chatRequests.length - calls, 1);
  });

  it("does not wait out a long Retry-After: the client gets it at once", async () => {
    const calls = h.upstream.chatRequests.length;
    h.upstream.next({
      kind: "error",
      ...UPSTREAM_ERRORS.throttling,
      headers: { "retry-after": "3600" },
    });
    const { response } = await chat();
    assert.equal(response.status, 429);
    assert.equal(response.headers.get("retry-after"), "3600");
    assert.equal(h.upstream.chatRequests.length - calls, 1);
  });

  it("on 401 with an OAuth token forces one refresh and retries with the new token", async () => {
    h.tokens.index = 0;
    h.tokens.forcedRefreshes = 0;
    h.upstream.acceptTokens = new Set(["token-2"]);
    try {
      const { response, json } = await chat();
      assert.equal(response.status, 200);
      assert.equal(json.choices[0].message.content, "Hello!");
      assert.equal(h.tokens.forcedRefreshes, 1);
      assert.equal(h.upstream.chatRequests.at(-1)!.headers.get("authorization"), "Bearer token-2");
    } finally {
      h.upstream.acceptTokens = undefined;
    }
  });

  it("says the OAuth free tier ended when the fresh token is refused too", async () => {
    h.tokens.index = 0;
    h.tokens.forcedRefreshes = 0;
    h.upstream.acceptTokens = new Set(["nothing"]);
    try {
      const { response, json } = await chat();
      assert.equal(response.status, 401);
      assert.equal(h.tokens.forcedRefreshes, 1);
      assert.match(json.error.message, /free tier was discontinued on 2026-04-15/);
      assert.match(json.error.message, /API key/);
    } finally {
      h.upstream.acceptTokens = undefined;
    }
  });

  it("refreshes on a 403 too, but not on a 403 quota answer", async () => {
    h.tokens.index = 0;
    h.tokens.forcedRefreshes = 0;
    h.upstream.next({ kind: "error", status: 403, body: '{"error":"invalid api-key"}' });
    assert.equal((await chat()).response.status, 200);
    assert.equal(h.tokens.forcedRefreshes, 1);
    h.upstream.next({
      kind: "error",
      status: 403,
      body: '{"error":{"message":"Free allocated quota exceeded.","code":"insufficient_quota"}}',
    });
    assert.equal((await chat()).response.status, 403);
    assert.equal(h.tokens.forcedRefreshes, 1);
  });

  it("passes a refresh failure on as the token source's error", async () => {
    h.tokens.refreshError = new QwenError("Refresh refused", { status: 401, code: "needs_login" });
    h.upstream.acceptTokens = new Set(["nothing"]);
    try {
      const { response, json } = await chat();
      assert.equal(response.status, 401);
      assert.equal(json.error.code, "needs_login");
      assert.match(json.error.message, /qwen auth/);
    } finally {
      h.tokens.refreshError = undefined;
      h.upstream.acceptTokens = undefined;
    }
  });

  it("does not refresh an API key: its 401 goes to the client", async () => {
    h.tokens.kind = "api_key";
    h.tokens.forcedRefreshes = 0;
    h.upstream.acceptTokens = new Set(["nothing"]);
    try {
      const { response, json } = await chat();
      assert.equal(response.status, 401);
      assert.equal(h.tokens.forcedRefreshes, 0);
      assert.equal(json.error.message, "invalid access token or token expired");
    } finally {
      h.tokens.kind = "oauth";
      h.upstream.acceptTokens = undefined;
    }
  });

  it("ends a stream cut half way with an error event and no [DONE]", async () => {
    h.upstream.next({ kind: "ok", breakAfter: 2 });
    const response = await h.call("/v1/chat/completions", { json: { ...HELLO, stream: true } });
    assert.equal(response.status, 200);
    const events = await sseEvents(response);
    assert.ok(!events.includes("[DONE]"));
    assert.equal(events.length, 3);
    const last = JSON.parse(events.at(-1)!);
    assert.equal(last.error.code, "upstream_stream_error");
    assert.equal(last.error.type, "api_error");
    assert.match(h.lines.at(-1)!, /error="The upstream connection broke/);
  });
});

describe("serve app: connection failures and timeouts", () => {
  it("retries connection failures, then answers 502 naming the host", async () => {
    const h = await setup();
    let attempts = 0;
    const failing = await setup({
      app: {
        fetch: () => {
          attempts++;
          return Promise.reject(new TypeError("connection refused"));
        },
      },
    });
    try {
      const response = await failing.call("/v1/chat/completions", { json: HELLO });
      assert.equal(response.status, 502);
      const json = await response.json();
      assert.equal(json.error.code, "upstream_unreachable");
      assert.match(json.error.message, /Cannot reach the upstream "127\.0\.0\.1:\d+": connection/);
      assert.equal(attempts, 1 + DEFAULT_RETRY_POLICY.maxRetries);
    } finally {
      await failing.close();
      await h.close();
    }
  });

  it("recovers when a retry after a connection failure gets through", async () => {
    let attempts = 0;
    const h = await setup({
      app: {
        fetch: (input, init) => {
          if (attempts++ === 0) return Promise.reject(new TypeError("connection reset"));
          return fetch(input, init);
        },
      },
    });
    try {
      const response = await h.call("/v1/chat/completions", { json: HELLO });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      assert.equal(attempts, 2);
    } finally {
      await h.close();
    }
  });

  it("answers 504 when the first byte takes longer than the first-byte timeout", async () => {
    const h = await setup({ app: { firstByteTimeoutMs: 100 } });
    try {
      h.upstream.next({ kind: "hang" });
      const response = await h.call("/v1/chat/completions", { json: HELLO });
      assert.equal(response.status, 504);
      const json = await response.json();
      assert.equal(json.error.code, "upstream_timeout");
      assert.match(json.error.message, /--first-byte-timeout/);
      await waitFor(() => h.upstream.chatRequests[0].aborted);
    } finally {
      await h.close();
    }
  });

  it("answers 504 when a JSON answer goes silent mid-body for longer than the idle timeout", async () => {
    const h = await setup({ app: { idleTimeoutMs: 150 } });
    try {
      h.upstream.next({ kind: "ok", stallAfterBytes: 20 });
      const response = await h.call("/v1/chat/completions", { json: HELLO });
      assert.equal(response.status, 504);
      const json = await response.json();
      assert.equal(json.error.code, "upstream_idle_timeout");
      assert.match(json.error.message, /sent nothing for .*: the answer was cut/);
      await waitFor(() => h.upstream.chatRequests[0].aborted);
    } finally {
      await h.close();
    }
  });

  it("cuts a stream that goes silent for longer than the idle timeout", async () => {
    const h = await setup({ app: { idleTimeoutMs: 150 } });
    try {
      h.upstream.next({ kind: "ok", chunkDelayMs: 1000 });
      const response = await h.call("/v1/chat/completions", { json: { ...HELLO, stream: true } });
      const events = await sseEvents(response);
      assert.equal(events.length, 2);
      assert.equal(JSON.parse(events[1]).error.code, "upstream_idle_timeout");
      await waitFor(() => h.upstream.chatRequests[0].aborted);
    } finally {
      await h.close();
    }
  });
});
