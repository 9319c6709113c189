/**
 * The real error bodies of docs/upstream.md#error-answers, each checked against everyone who reads
 * upstream answers: the classifier, `qwen status --probe`, and `qwen serve` (with two accounts,
 * the first answering the body: does the request fail over, what becomes of the account, what
 * does the client get).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { TokenSource, UpstreamAuth } from "../../src/credentials/types.ts";
import { accountOf } from "../../src/accounts/account.ts";
import { AccountPool } from "../../src/pool/pool.ts";
import { createApp } from "../../src/server/app.ts";
import { createLogger } from "../../src/server/log.ts";
import { classifyAnswer } from "../../src/upstream/classify.ts";

type Failure = ReturnType<typeof classifyAnswer>["failure"];
import { probe, type ProbeResultName } from "../../src/upstream/probe.ts";
import {
  type RunningFakeUpstream,
  startFakeUpstream,
  UPSTREAM_ERRORS,
} from "../helpers/fake-upstream.ts";
import { HELLO } from "../server/harness.ts";

const NOW = Date.UTC(2026, 4, 1, 10, 0, 0);

/** What serve does with the first account's answer when a second account is fine. */
type Serve =
  /** The second account answers; the first is then `state`. */
  | { failsOver: true; state: "ok" | "cooling_down" | "rejected" | "throttled" }
  /** The client gets this status from the first account; nothing else is tried. */
  | { failsOver: false; status: number };

interface Row {
  name: string;
  status: number;
  body: string;
  kind?: "oauth" | "api_key";
  failure: Failure;
  probe: ProbeResultName;
  serve: Serve;
}

const openAI = (message: string, code: string | number | null, type = "invalid_request_error") =>
  JSON.stringify({ error: { message, type, param: null, code } });

const ROWS: Row[] = [
  {
    name: "Alibaba: quota (insufficient_quota)",
    status: 429,
    body: openAI("Free allocated quota exceeded.", "insufficient_quota", "insufficient_quota"),
    failure: "quota",
    probe: "quota",
    serve: { failsOver: true, state: "cooling_down" },
  },
  {
    name: "Alibaba: quota has been exhausted, on a 429",
    status: 429,
    body: openAI("Your quota has been exhausted.", "Throttling.Quota"),
    failure: "quota",
    probe: "quota",
    serve: { failsOver: true, state: "cooling_down" },
  },
  {
    name: "Alibaba: allocation quota on a 403 (native shape)",
    status: 403,
    body: JSON.stringify({
      code: "Throttling.AllocationQuota",
      message: "Allocated quota exceeded, please increase your quota limit.",
      request_id: "r-2",
    }),
    failure: "quota",
    probe: "quota",
    serve: { failsOver: true, state: "cooling_down" },
  },
  {
    name: "Alibaba: throttling",
    status: 429,
    body: openAI("Requests rate limit exceeded, please try again later.", "Throttling.RateQuota"),
    failure: "throttled",
    probe: "throttled",
    serve: { failsOver: true, state: "throttled" },
  },
  {
    name: "Alibaba: arrears",
    status: 400,
    body: openAI(
      "Access denied, please make sure your account is in good standing.",
      "Arrearage",
      "Arrearage",
    ),
    failure: "arrears",
    probe: "arrears",
    serve: { failsOver: true, state: "rejected" },
  },
  {
    name: "Coding Plan: 405 to a client that is no coding agent",
    status: 405,
    body: JSON.stringify({ error: "Coding Plan is currently only available for Coding Agents" }),
    failure: "coding_plan_client",
    probe: "coding_plan_client",
    serve: { failsOver: false, status: 405 },
  },
  {
    name: "Alibaba: invalid key (pay-as-you-go)",
    status: 401,
    body: openAI("Incorrect API key provided. ", "invalid_api_key"),
    failure: "invalid_credentials",
    probe: "invalid_key",
    serve: { failsOver: true, state: "rejected" },
  },
  {
    name: "Alibaba: a key of another plan or region",
    status: 403,
    body: JSON.stringify({ code: "InvalidApiKey", message: "invalid api-key", request_id: "r" }),
    failure: "wrong_plan_or_region",
    probe: "wrong_plan_or_region",
    serve: { failsOver: true, state: "rejected" },
  },
  {
    name: "Alibaba: a model the account has not bought",
    status: 403,
    body: openAI(
      "Access to model denied. Please make sure you are eligible for using the model.",
      "AccessDenied.Unpurchased",
    ),
    failure: "no_access",
    probe: "upstream_error",
    serve: { failsOver: true, state: "ok" },
  },
  {
    name: "DashScope: a model the key is not entitled to (flat shape)",
    status: 403,
    body: JSON.stringify({ code: "AccessDenied.Unpurchased", message: "Access to model denied." }),
    failure: "no_access",
    probe: "upstream_error",
    serve: { failsOver: true, state: "ok" },
  },
  {
    name: "the portal's model refusal to an OAuth token",
    status: 403,
    body: JSON.stringify({ code: "AccessDenied.Unpurchased", message: "Access to model denied." }),
    kind: "oauth",
    failure: "no_access",
    probe: "upstream_error",
    serve: { failsOver: true, state: "ok" },
  },
  {
    name: "OpenAI-compatible: model not found",
    status: 404,
    body: openAI(
      "The model `qwen3-coder-pro` does not exist or you do not have access to it.",
      "model_not_found",
    ),
    failure: "unknown_model",
    probe: "upstream_error",
    serve: { failsOver: true, state: "ok" },
  },
  {
    name: "model not found on a 403",
    status: 403,
    body: openAI(
      "The model `qwen3.5-coder` does not exist or you do not have access to it.",
      "model_not_found",
    ),
    failure: "unknown_model",
    probe: "upstream_error",
    serve: { failsOver: true, state: "ok" },
  },
  {
    name: "DashScope: model not exist (flat shape)",
    status: 400,
    body: JSON.stringify({
      code: "InvalidParameter",
      message: "Model not exist.",
      request_id: "r",
    }),
    failure: "unknown_model",
    probe: "upstream_error",
    serve: { failsOver: true, state: "ok" },
  },
  {
    name: "Alibaba: content inspection",
    status: 400,
    body: JSON.stringify({
      code: "DataInspectionFailed",
      message: "Input data may contain inappropriate content.",
      request_id: "r",
    }),
    failure: "request",
    probe: "upstream_error",
    serve: { failsOver: false, status: 400 },
  },
  {
    name: "OpenRouter: moderation on a 403",
    status: 403,
    body: JSON.stringify({
      error: {
        message: "Your chosen model requires moderation and your input was flagged",
        code: 403,
      },
    }),
    failure: "request",
    probe: "upstream_error",
    serve: { failsOver: false, status: 403 },
  },
  {
    name: "a firewall's 403 page",
    status: 403,
    body: "<html><body><h1>403 Forbidden</h1></body></html>",
    failure: "no_access",
    probe: "upstream_error",
    serve: { failsOver: true, state: "ok" },
  },
  {
    name: "a 403 that says the key expired",
    status: 403,
    body: openAI("The API key has expired.", "invalid_api_key"),
    failure: "invalid_credentials",
    probe: "invalid_key",
    serve: { failsOver: true, state: "rejected" },
  },
  {
    name: "Alibaba: context too long",
    status: 400,
    body: JSON.stringify({
      code: "InvalidParameter",
      message: "Range of input length should be [1, 98304]",
      request_id: "r",
    }),
    failure: "request",
    probe: "upstream_error",
    serve: { failsOver: false, status: 400 },
  },
  {
    name: "OpenRouter: rate limit",
    status: 429,
    body: JSON.stringify({
      error: { message: "Rate limit exceeded: limit_rpm/qwen/qwen3-coder", code: 429 },
    }),
    failure: "throttled",
    probe: "throttled",
    serve: { failsOver: true, state: "throttled" },
  },
  {
    name: "OpenRouter: out of credits",
    status: 402,
    body: JSON.stringify({
      error: { message: "Insufficient credits. Add more using the credits page", code: 402 },
    }),
    failure: "arrears",
    probe: "arrears",
    serve: { failsOver: true, state: "rejected" },
  },
  {
    name: "OpenRouter: no auth credentials",
    status: 401,
    body: JSON.stringify({ error: { message: "No auth credentials found", code: 401 } }),
    failure: "invalid_credentials",
    probe: "invalid_key",
    serve: { failsOver: true, state: "rejected" },
  },
  {
    name: "the portal's 401 to an OAuth token",
    status: 401,
    body: UPSTREAM_ERRORS.invalidToken.body,
    kind: "oauth",
    failure: "invalid_credentials",
    probe: "oauth_discontinued",
    serve: { failsOver: true, state: "rejected" },
  },
  {
    name: "a gateway timeout on a long context",
    status: 504,
    body: "<html><body>504 Gateway Time-out</body></html>",
    failure: "timeout",
    probe: "upstream_error",
    serve: { failsOver: false, status: 504 },
  },
  {
    name: "an HTML 502",
    status: 502,
    body: "<html><body><h1>502 Bad Gateway</h1></body></html>",
    failure: "server",
    probe: "upstream_error",
    serve: { failsOver: true, state: "ok" },
  },
];

/** A fixed credential as a token source; an OAuth one "refreshes" to the same token. */
class FixedSource implements TokenSource {
  constructor(
    readonly account: string,
    readonly token: string,
    readonly baseUrl: string,
    readonly kind: "oauth" | "api_key",
  ) {}
  getToken(): Promise<UpstreamAuth> {
    return Promise.resolve({ token: this.token, baseUrl: this.baseUrl, kind: this.kind });
  }
  state() {
    return Promise.resolve({ state: "valid" as const });
  }
}

/** A fill-first pool of one fixed credential per token, named `first`, `second`, ... */
function poolOf(baseUrl: string, tokens: string[], kind: "oauth" | "api_key"): AccountPool {
  const names = ["first", "second", "third"];
  return new AccountPool({
    strategy: "fill-first",
    now: () => NOW,
    entries: tokens.map((token, i) =>
      accountOf(new FixedSource(names[i], token, baseUrl, kind), { type: kind })
    ),
  });
}

/** One chat completion through `qwen serve`'s app over `pool`, without retry rounds. */
function chat(pool: AccountPool): Promise<Response> {
  const app = createApp({
    pool,
    fetch: (input, init) => fetch(input, init),
    logger: createLogger({ format: "text", verbose: false, write: () => {} }),
    security: {
      apiKeys: [],
      corsOrigins: [],
      allowHosts: [],
      loopback: true,
      port: () => 8080,
    },
    userAgent: "qwen/test (linux; x64)",
    now: () => NOW,
    sleep: () => Promise.resolve(),
    retry: { maxRetries: 0 },
  });
  return app(
    new Request("http://127.0.0.1:8080/v1/chat/completions", {
      method: "POST",
      headers: { host: "127.0.0.1:8080", "content-type": "application/json" },
      body: JSON.stringify(HELLO),
    }),
  );
}

describe("every reader of an upstream answer agrees on the real bodies", () => {
  let upstream: RunningFakeUpstream;
  before(async () => (upstream = await startFakeUpstream()));
  after(() => upstream.close());

  for (const row of ROWS) {
    const kind = row.kind ?? "api_key";

    it(`classifies ${row.name}`, () => {
      const error = classifyAnswer(row.status, new Headers(), row.body, { kind, now: NOW });
      assert.equal(error.failure, row.failure);
      assert.ok(error.message.length > 0);
      assert.equal(JSON.parse(error.body).error.message, error.message);
    });

    it(`probes ${row.name} as ${row.probe}`, async () => {
      const source = new FixedSource(
        "a",
        "sk-probe",
        "https://dashscope-intl.aliyuncs.com/v1",
        kind,
      );
      const outcome = await probe({ source, model: "qwen3-coder-plus" }, {
        fetch: () => Promise.resolve(new Response(row.body, { status: row.status })),
        userAgent: "qwen/test (linux; x64)",
        now: () => NOW,
      });
      assert.equal(outcome.result, row.probe);
      assert.equal(outcome.status, row.status);
    });

    it(`serves ${row.name}`, async () => {
      const first = `sk-first-${row.status}-${row.name.length}`;
      const second = `sk-second-${row.status}-${row.name.length}`;
      upstream.fake.answer(first, { status: row.status, body: row.body });
      try {
        const pool = poolOf(upstream.baseUrl, [first, second], kind);
        const since = upstream.fake.requests.length;
        const response = await chat(pool);
        await response.body?.cancel();
        const used = upstream.fake.requests.slice(since).map((r) => r.authorization);
        const member = pool.members.find((m) => m.name === "first")!;
        if (row.serve.failsOver) {
          assert.equal(response.status, 200);
          assert.equal(used.at(-1), `Bearer ${second}`);
          const state = member.throttledUntil > NOW ? "throttled" : member.health.state;
          assert.equal(state, row.serve.state);
        } else {
          assert.equal(response.status, row.serve.status);
          assert.ok(used.every((a) => a === `Bearer ${first}`));
          assert.equal(member.health.state, "ok");
        }
      } finally {
        upstream.fake.clear(first);
      }
    });
  }
});

describe("a refusal of what was asked leaves the accounts alone", () => {
  let upstream: RunningFakeUpstream;
  before(async () => (upstream = await startFakeUpstream()));
  after(() => upstream.close());

  const DENIED = {
    status: 403,
    body: JSON.stringify({ code: "AccessDenied.Unpurchased", message: "Access to model denied." }),
  };
  const NOT_FOUND = {
    status: 404,
    body: openAI("The model `qwen3-coder-pro` does not exist.", "model_not_found"),
  };
  const keys = (tag: string) => ["a", "b", "c"].map((k) => `sk-refusal-${tag}-${k}`);
  const usedBy = (since: number, tokens: string[]) =>
    upstream.fake.requests.slice(since).map((r) =>
      tokens.indexOf(r.authorization?.slice("Bearer ".length) ?? "")
    );

  it("gives the client the upstream's status and message when no account serves the model", async () => {
    const tokens = keys("none");
    for (const t of tokens.slice(0, 2)) upstream.fake.answer(t, DENIED);
    try {
      const pool = poolOf(upstream.baseUrl, tokens.slice(0, 2), "api_key");
      const since = upstream.fake.requests.length;
      const response = await chat(pool);
      assert.equal(response.status, 403);
      const json = await response.json();
      assert.equal(json.error.message, "Access to model denied.");
      assert.equal(json.error.code, "AccessDenied.Unpurchased");
      assert.deepEqual(usedBy(since, tokens), [0, 1]);
      assert.deepEqual(pool.members.map((m) => m.health.state), ["ok", "ok"]);
      // The next request is tried as before: nothing was taken out of service.
      for (const t of tokens) upstream.fake.clear(t);
      const again = await chat(pool);
      assert.equal(again.status, 200);
      await again.body?.cancel();
    } finally {
      for (const t of tokens) upstream.fake.clear(t);
    }
  });

  it("asks each account once for a model nobody serves", async () => {
    const tokens = keys("once");
    for (const t of tokens) upstream.fake.answer(t, NOT_FOUND);
    try {
      const pool = poolOf(upstream.baseUrl, tokens, "api_key");
      const since = upstream.fake.requests.length;
      const response = await chat(pool);
      assert.equal(response.status, 404);
      assert.equal((await response.json()).error.code, "model_not_found");
      assert.deepEqual(usedBy(since, tokens), [0, 1, 2]);
      assert.deepEqual(pool.members.map((m) => m.health.state), ["ok", "ok", "ok"]);
    } finally {
      for (const t of tokens) upstream.fake.clear(t);
    }
  });

  it("still asks an account whose refusal of a model was a one-off", async () => {
    const tokens = keys("one-off");
    for (const t of tokens.slice(0, 2)) upstream.fake.answer(t, DENIED);
    upstream.fake.once(tokens[2], DENIED);
    try {
      const pool = poolOf(upstream.baseUrl, tokens, "api_key");
      assert.equal((await chat(pool)).status, 403);
      // All three refused it lately; the one that has it is still asked, and answers.
      const since = upstream.fake.requests.length;
      const response = await chat(pool);
      assert.equal(response.status, 200);
      await response.body?.cancel();
      assert.deepEqual(usedBy(since, tokens), [0, 1, 2]);
    } finally {
      for (const t of tokens) upstream.fake.clear(t);
    }
  });

  it("sends a model to the account that serves it once the others refused it", async () => {
    // Round-robin puts the accounts that lack the model first for some requests: before the
    // refusals were remembered, two of them could refuse and the request ended there.
    const tokens = keys("owner");
    for (const t of tokens.slice(0, 2)) upstream.fake.answer(t, DENIED);
    try {
      const pool = poolOf(upstream.baseUrl, tokens, "api_key");
      const since = upstream.fake.requests.length;
      const first = await chat(pool);
      assert.equal(first.status, 200);
      await first.body?.cancel();
      assert.deepEqual(usedBy(since, tokens), [0, 1, 2]);
      for (let i = 0; i < 4; i++) {
        const next = upstream.fake.requests.length;
        const response = await chat(pool);
        assert.equal(response.status, 200);
        await response.body?.cancel();
        assert.deepEqual(usedBy(next, tokens), [2], `request ${i + 2}`);
      }
    } finally {
      for (const t of tokens) upstream.fake.clear(t);
    }
  });

  it("answers with the refusal rather than another account's refused key", async () => {
    const tokens = keys("mixed").slice(0, 2);
    upstream.fake.answer(tokens[0], DENIED);
    upstream.fake.answer(tokens[1], {
      status: 401,
      body: openAI("Incorrect API key provided. ", "invalid_api_key"),
    });
    try {
      const pool = poolOf(upstream.baseUrl, tokens, "api_key");
      const response = await chat(pool);
      assert.equal(response.status, 403);
      assert.equal((await response.json()).error.message, "Access to model denied.");
      assert.deepEqual(pool.members.map((m) => m.health.state), ["ok", "rejected"]);
    } finally {
      for (const t of tokens) upstream.fake.clear(t);
    }
  });

  it("keeps the only account in service after a model refusal", async () => {
    const [token] = keys("only");
    upstream.fake.once(token, DENIED, NOT_FOUND);
    try {
      const pool = poolOf(upstream.baseUrl, [token], "api_key");
      for (const status of [403, 404, 200]) {
        const response = await chat(pool);
        assert.equal(response.status, status);
        await response.body?.cancel();
        assert.equal(pool.members[0].health.state, "ok");
      }
    } finally {
      upstream.fake.clear(token);
    }
  });
});
