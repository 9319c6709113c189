/**
 * Many accounts behind one app: the pool's order, failover before the first byte, cooldowns,
 * rejections and their recovery, the answers when nobody can serve, usage counts, /metrics, the
 * model map and /v1/models. API-key accounts against the fake provider, each with its own key;
 * time passes through an injected clock.
 */
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DEFAULT_MODEL_MAP } from "../../src/accounts/providers.ts";
import type { TokenSource, UpstreamAuth } from "../../src/credentials/types.ts";
import { type Account, accountOf } from "../../src/accounts/account.ts";
import { AccountPool } from "../../src/pool/pool.ts";
import { readStateFile, STATE_FILE, StateStore } from "../../src/pool/state-file.ts";
import { beijingDay, nextBeijingMidnight } from "../../src/lib/time.ts";
import { usageFromBytes, usageFromChunks } from "../../src/upstream/usage.ts";

const findUsage = (text: string) => usageFromBytes(new TextEncoder().encode(text));
import { createApp } from "../../src/server/app.ts";

type App = ReturnType<typeof createApp>;
import { createLogger } from "../../src/server/log.ts";
import { Metrics } from "../../src/server/metrics.ts";
import { authHeaders } from "../../src/upstream/headers.ts";
import {
  PROVIDER_ANSWERS,
  type RunningFakeUpstream,
  startFakeUpstream,
} from "../helpers/fake-upstream.ts";
import { tempHome } from "../helpers/run-cli.ts";
import { waitFor } from "../helpers/wait-for.ts";
import { HELLO } from "./harness.ts";

/** An API key as a token source: fixed key and URL. */
class KeySource implements TokenSource {
  constructor(readonly account: string, public key: string, public baseUrl: string) {}
  getToken(): Promise<UpstreamAuth> {
    return Promise.resolve({ token: this.key, baseUrl: this.baseUrl, kind: "api_key" });
  }
  state() {
    return Promise.resolve({ state: "valid" as const });
  }
}

const KEYS = { a: "sk-aaaa0000000000000001", b: "sk-bbbb0000000000000002", c: "sk-cccc00000003" };

interface Rig {
  app: App;
  pool: AccountPool;
  metrics: Metrics;
  clock: { now: number };
  sleeps: number[];
  identities: Map<string, string>;
  sources: Record<string, KeySource>;
  /** What the pool logged. */
  lines: string[];
  call(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
}

let provider: RunningFakeUpstream;
before(async () => (provider = await startFakeUpstream()));
after(() => provider.close());

function rig(
  options: {
    strategy?: AccountPool["strategy"];
    names?: (keyof typeof KEYS)[];
    state?: StateStore;
    modelMap?: Record<string, string>;
    apiKeys?: string[];
  } = {},
): Rig {
  const clock = { now: Date.parse("2026-05-01T10:00:00Z") };
  const sleeps: number[] = [];
  const lines: string[] = [];
  const identities = new Map<string, string>();
  const sources: Record<string, KeySource> = {};
  const entries: Account[] = (options.names ?? ["a", "b", "c"]).map((name) => {
    sources[name] = new KeySource(name, KEYS[name], provider.baseUrl);
    identities.set(name, `id-${name}-1`);
    return accountOf(sources[name], { type: "api_key", modelMap: DEFAULT_MODEL_MAP });
  });
  const metrics = new Metrics();
  const pool = new AccountPool({
    strategy: options.strategy ?? "round-robin",
    now: () => clock.now,
    entries,
    state: options.state,
    observer: metrics,
    modelMap: options.modelMap,
    identity: (entry) => Promise.resolve(identities.get(entry.name)),
    log: (line) => lines.push(line),
  });
  const app = createApp({
    pool,
    metrics,
    fetch: (input, init) => fetch(input, init),
    logger: createLogger({ format: "text", verbose: false, write: () => {} }),
    security: {
      apiKeys: options.apiKeys ?? [],
      corsOrigins: [],
      allowHosts: [],
      loopback: true,
      port: () => 8080,
    },
    userAgent: "qwen/test (linux; x64)",
    now: () => clock.now,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    retry: { random: () => 0.5, baseDelayMs: 10, maxDelayMs: 100 },
  });
  return {
    app,
    pool,
    metrics,
    clock,
    sleeps,
    identities,
    sources,
    lines,
    call(path, init = {}) {
      const headers = new Headers(init.headers);
      headers.set("host", "127.0.0.1:8080");
      let body = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers.set("content-type", "application/json");
      }
      return app(
        new Request(`http://127.0.0.1:8080${path}`, {
          method: init.method ?? (body ? "POST" : "GET"),
          headers,
          body,
        }),
      );
    },
  };
}

/** Which account each chat call of the fake provider was made with, from `since` on. */
function keysUsed(since: number): string[] {
  const byKey = new Map(Object.entries(KEYS).map(([name, key]) => [`Bearer ${key}`, name]));
  return provider.fake.requests.slice(since)
    .filter((r) => r.path.endsWith("/chat/completions"))
    .map((r) => byKey.get(r.authorization ?? "") ?? "?");
}

async function chat(r: Rig, body: unknown = HELLO) {
  const response = await r.call("/v1/chat/completions", { json: body });
  return { response, text: await response.text() };
}

describe("pool: order", () => {
  beforeEach(() => provider.fake.clear());

  it("round-robin starts each request at the next account", async () => {
    const r = rig();
    const since = provider.fake.requests.length;
    for (let i = 0; i < 6; i++) assert.equal((await chat(r)).response.status, 200);
    assert.deepEqual(keysUsed(since), ["a", "b", "c", "a", "b", "c"]);
  });

  it("fill-first stays on the first account while it answers", async () => {
    const r = rig({ strategy: "fill-first" });
    const since = provider.fake.requests.length;
    for (let i = 0; i < 3; i++) assert.equal((await chat(r)).response.status, 200);
    assert.deepEqual(keysUsed(since), ["a", "a", "a"]);
  });

  it("takes a new strategy and --model-map on reconfigure; accounts keep their state", async () => {
    const r = rig({ strategy: "fill-first", names: ["a", "b"] });
    r.pool.quota(r.pool.members[1], { until: r.clock.now + 60_000, message: "quota" });
    r.pool.reconfigure({ strategy: "round-robin", modelMap: { "house-model": "qwen3-max" } });
    assert.equal(r.pool.members[1].health.state, "cooling_down");
    r.clock.now += 60_000;
    const since = provider.fake.requests.length;
    for (let i = 0; i < 2; i++) await chat(r, { ...HELLO, model: "house-model" });
    assert.deepEqual(keysUsed(since).sort(), ["a", "b"]);
    assert.equal(JSON.parse(provider.fake.requests.at(-1)!.body).model, "qwen3-max");
  });
});

describe("pool: failover before the first byte", () => {
  beforeEach(() => provider.fake.clear());

  it("moves on after a quota answer and cools the account down until Retry-After", async () => {
    const r = rig({ strategy: "fill-first" });
    provider.fake.once(KEYS.a, { ...PROVIDER_ANSWERS.quota, headers: { "retry-after": "120" } });
    const since = provider.fake.requests.length;
    const { response, text } = await chat(r);
    assert.equal(response.status, 200);
    assert.equal(JSON.parse(text).choices[0].message.content, "Hello!");
    assert.doesNotMatch(text, /quota/);
    assert.deepEqual(keysUsed(since), ["a", "b"]);
    const a = r.pool.members.find((m) => m.name === "a")!;
    assert.equal(a.health.state, "cooling_down");
    assert.equal(a.health.until, r.clock.now + 120_000);
    // Skipped while cooling, back once the time has come.
    await chat(r);
    assert.deepEqual(keysUsed(since), ["a", "b", "b"]);
    r.clock.now += 121_000;
    await chat(r);
    assert.deepEqual(keysUsed(since), ["a", "b", "b", "a"]);
    assert.equal(a.health.state, "ok");
  });

  it("never lets a byte of the failed attempt reach a streaming client", async () => {
    const r = rig({ strategy: "fill-first" });
    provider.fake.once(KEYS.a, PROVIDER_ANSWERS.allocationQuota);
    const { response, text } = await chat(r, { ...HELLO, stream: true });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    assert.ok(text.startsWith("data: {"), "the stream starts with the good answer's first event");
    assert.doesNotMatch(text, /quota|AllocationQuota|error/i);
    assert.ok(text.trimEnd().endsWith("data: [DONE]"));
  });

  it("doubles the back-off of a quota answer without a window, up to 1 h", async () => {
    const r = rig({ strategy: "fill-first", names: ["a", "b"] });
    const a = r.pool.members.find((m) => m.name === "a")!;
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      provider.fake.once(KEYS.a, PROVIDER_ANSWERS.quota);
      await chat(r);
      waits.push(a.health.until! - r.clock.now);
      r.clock.now = a.health.until! + 1;
    }
    assert.deepEqual(waits.map((ms) => ms / 60_000), [1, 2, 4, 8, 16, 32, 60, 60]);
    // A success ends the streak.
    await chat(r);
    provider.fake.once(KEYS.a, PROVIDER_ANSWERS.quota);
    await chat(r);
    assert.equal(a.health.until! - r.clock.now, 60_000);
  });

  it("cools a daily quota down until midnight Beijing time", async () => {
    const r = rig({ strategy: "fill-first", names: ["a", "b"] });
    provider.fake.once(KEYS.a, {
      status: 429,
      body: JSON.stringify({
        error: { message: "You exceeded your daily quota", code: "insufficient_quota" },
      }),
    });
    await chat(r);
    const until = r.pool.members.find((m) => m.name === "a")!.health.until!;
    assert.equal(until, nextBeijingMidnight(r.clock.now));
    assert.equal(new Date(until).toISOString(), "2026-05-01T16:00:00.000Z");
  });

  it("tries another account at once after throttling, without waiting", async () => {
    const r = rig({ strategy: "fill-first", names: ["a", "b"] });
    provider.fake.once(KEYS.a, PROVIDER_ANSWERS.throttled);
    const since = provider.fake.requests.length;
    assert.equal((await chat(r)).response.status, 200);
    assert.deepEqual(keysUsed(since), ["a", "b"]);
    assert.deepEqual(r.sleeps, []);
    // Throttled a moment ago: it goes last, but is not skipped for good.
    await chat(r);
    assert.deepEqual(keysUsed(since), ["a", "b", "b"]);
    r.clock.now += 31_000;
    await chat(r);
    assert.deepEqual(keysUsed(since), ["a", "b", "b", "a"]);
  });

  for (const status of [400, 404, 413, 422]) {
    it(`returns a ${status} as it is, without trying other accounts`, async () => {
      const r = rig({ strategy: "fill-first" });
      const body = JSON.stringify({
        error: { message: `bad ${status}`, type: "invalid_request_error", param: null, code: "x" },
      });
      provider.fake.once(KEYS.a, { status, body });
      const since = provider.fake.requests.length;
      const { response, text } = await chat(r);
      assert.equal(response.status, status);
      assert.equal(text, body);
      assert.deepEqual(keysUsed(since), ["a"]);
      assert.equal(r.pool.members.find((m) => m.name === "a")!.health.state, "ok");
    });
  }

  it("explains the Coding Plan 405 and names the client's own User-Agent", async () => {
    const r = rig({ strategy: "fill-first" });
    provider.fake.once(KEYS.a, PROVIDER_ANSWERS.codingPlanClient);
    const response = await r.call("/v1/chat/completions", {
      json: HELLO,
      headers: { "user-agent": "my-script/1.0" },
    });
    assert.equal(response.status, 405);
    const json = await response.json();
    assert.equal(json.error.code, "coding_plan_client");
    assert.equal(json.error.type, "invalid_request_error");
    assert.match(json.error.message, /only from coding agents/);
    assert.match(json.error.message, /"my-script\/1\.0"/);
    assert.match(json.error.message, /never makes one up/);
  });
});

describe("pool: rejected accounts", () => {
  beforeEach(() => provider.fake.clear());

  it("skips a refused key until its credentials change", async () => {
    const r = rig({ strategy: "fill-first", names: ["a", "b"] });
    provider.fake.answer(KEYS.a, PROVIDER_ANSWERS.invalidKey);
    const since = provider.fake.requests.length;
    assert.equal((await chat(r)).response.status, 200);
    const a = r.pool.members.find((m) => m.name === "a")!;
    assert.equal(a.health.state, "rejected");
    await r.pool.maintain(); // Takes the identity of the refused credentials.
    assert.equal(a.health.identity, "id-a-1");
    await chat(r);
    assert.deepEqual(keysUsed(since), ["a", "b", "b"]);
    // Nothing changed: still skipped after upkeep.
    await r.pool.maintain();
    assert.equal(a.health.state, "rejected");
    // A new key in the file: tried again.
    provider.fake.clear(KEYS.a);
    r.identities.set("a", "id-a-2");
    await r.pool.maintain();
    assert.equal(a.health.state, "ok");
    await chat(r);
    assert.deepEqual(keysUsed(since), ["a", "b", "b", "a"]);
  });

  it("treats Arrearage as rejected, not as a quota that waiting fixes", async () => {
    const r = rig({ strategy: "fill-first", names: ["a", "b"] });
    provider.fake.once(KEYS.a, PROVIDER_ANSWERS.arrears);
    assert.equal((await chat(r)).response.status, 200);
    const a = r.pool.members.find((m) => m.name === "a")!;
    assert.equal(a.health.state, "rejected");
    assert.equal(a.health.reason, "arrears");
    r.clock.now += 48 * 3_600_000;
    assert.equal(a.available(r.clock.now), false);
  });
});

describe("pool: rejected accounts are tried again", () => {
  beforeEach(() => provider.fake.clear());
  const member = (r: Rig, name: string) => r.pool.members.find((m) => m.name === name)!;

  it("sends the only account one request 30 s later, and a success restores it", async () => {
    const r = rig({ names: ["a"] });
    provider.fake.once(KEYS.a, PROVIDER_ANSWERS.invalidKey);
    const since = provider.fake.requests.length;
    const refused = await chat(r);
    assert.equal(refused.response.status, 401);
    const a = member(r, "a");
    assert.equal(a.health.state, "rejected");
    assert.equal(a.health.retryAt, r.clock.now + 30_000);

    // Before then: no call, and the client is told when the next try is.
    r.clock.now += 29_000;
    const waiting = await chat(r);
    assert.equal(waiting.response.status, 401);
    assert.match(
      JSON.parse(waiting.text).error.message,
      /"a": refused by the upstream \(Incorrect API key provided\.\), tried again after 2026-05-01T10:00:30\.000Z/,
    );
    const down = await r.call("/health");
    assert.equal(down.status, 503);
    assert.match((await down.json()).reason, /refused by the upstream/);
    assert.match(
      await (await r.call("/metrics")).text(),
      /^qwen_account_available\{account="a",state="rejected"\} 0$/m,
    );
    assert.deepEqual(keysUsed(since), ["a"]);

    r.clock.now += 1_000;
    const back = await chat(r);
    assert.equal(back.response.status, 200);
    assert.deepEqual(keysUsed(since), ["a", "a"]);
    assert.equal(a.health.state, "ok");
    assert.equal(a.health.retryAt, undefined);
    const up = await r.call("/health");
    assert.equal(up.status, 200);
    await up.body?.cancel();
    assert.match(
      await (await r.call("/metrics")).text(),
      /^qwen_account_available\{account="a",state="ok"\} 1$/m,
    );
  });

  it("doubles the back-off after each failed try, up to 30 min, serving from the others meanwhile", async () => {
    const r = rig({ strategy: "fill-first", names: ["a", "b"] });
    provider.fake.answer(KEYS.a, PROVIDER_ANSWERS.invalidKey);
    assert.equal((await chat(r)).response.status, 200);
    const a = member(r, "a");
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      waits.push(a.health.retryAt! - r.clock.now);
      r.clock.now = a.health.retryAt! - 1;
      const since = provider.fake.requests.length;
      assert.equal((await chat(r)).response.status, 200);
      r.clock.now += 1;
      assert.equal((await chat(r)).response.status, 200);
      // Not a moment early; then first, once, and the request fails over to b.
      assert.deepEqual(keysUsed(since), ["b", "a", "b"]);
      assert.equal(a.health.state, "rejected");
    }
    assert.deepEqual(waits.map((ms) => ms / 1000), [30, 60, 120, 240, 480, 960, 1800, 1800]);
  });

  it("lets the next request try again when a try tells nothing (a 5xx)", async () => {
    const r = rig({ strategy: "fill-first", names: ["a", "b"] });
    provider.fake.once(
      KEYS.a,
      PROVIDER_ANSWERS.invalidKey,
      PROVIDER_ANSWERS.serverError,
      PROVIDER_ANSWERS.serverError,
    );
    await chat(r);
    const a = member(r, "a");
    r.clock.now = a.health.retryAt!;
    const since = provider.fake.requests.length;
    assert.equal((await chat(r)).response.status, 200);
    assert.deepEqual(keysUsed(since), ["a", "b"]);
    assert.equal(a.health.state, "rejected");
    assert.equal(a.health.retryAt, r.clock.now);
    r.clock.now += 1;
    assert.equal((await chat(r)).response.status, 200);
    assert.deepEqual(keysUsed(since), ["a", "b", "a", "b"]);
    // Said once, not for every request that tries.
    assert.equal(r.lines.filter((l) => /could not be tried/.test(l)).length, 1);
    // The next try works: back in service.
    r.clock.now += 1;
    await chat(r);
    assert.deepEqual(keysUsed(since), ["a", "b", "a", "b", "a"]);
    assert.equal(a.health.state, "ok");
  });

  it("remembers refused models for 10 minutes, and at most 64 of them per account", () => {
    const r = rig({ names: ["a", "b"] });
    const a = member(r, "a");
    for (let i = 0; i < 100; i++) r.pool.modelRefused(a, `model-${i}`);
    assert.equal(a.refusedModels!.size, 64);
    assert.ok(a.refuses("model-99", r.clock.now) && !a.refuses("model-0", r.clock.now));
    assert.deepEqual(r.pool.candidates("model-99").map((m) => m.name).at(-1), "a");
    r.clock.now += 10 * 60_000;
    assert.equal(a.refuses("model-99", r.clock.now), false);
  });

  it("lets a try's own answer (a 400) not decide the request, and takes it as the key accepted", async () => {
    const r = rig({ strategy: "fill-first", names: ["a", "b"] });
    const bad = JSON.stringify({
      error: { message: "bad 400", type: "invalid_request_error", param: null, code: "x" },
    });
    provider.fake.once(KEYS.a, PROVIDER_ANSWERS.invalidKey, { status: 400, body: bad });
    await chat(r);
    r.clock.now += 30_000;
    const since = provider.fake.requests.length;
    assert.equal((await chat(r)).response.status, 200);
    assert.deepEqual(keysUsed(since), ["a", "b"]);
    assert.equal(member(r, "a").health.state, "ok");
  });

  it("brings an account back when its try is throttled or refused a model: the key was taken", async () => {
    for (const answer of [PROVIDER_ANSWERS.throttled, PROVIDER_ANSWERS.modelDenied]) {
      const r = rig({ strategy: "fill-first", names: ["a", "b"] });
      provider.fake.once(KEYS.a, PROVIDER_ANSWERS.invalidKey, answer);
      await chat(r);
      const a = member(r, "a");
      assert.equal(a.health.state, "rejected");
      r.clock.now = a.health.retryAt!;
      const since = provider.fake.requests.length;
      assert.equal((await chat(r)).response.status, 200);
      assert.deepEqual(keysUsed(since), ["a", "b"]);
      assert.equal(a.health.state, "ok", `after ${answer.body}`);
      assert.equal(a.health.retryAt, undefined);
    }
  });

  it("lets one live request try it, not every request that arrives meanwhile", async () => {
    const r = rig({ strategy: "fill-first", names: ["a", "b"] });
    provider.fake.once(KEYS.a, PROVIDER_ANSWERS.invalidKey);
    await chat(r);
    r.clock.now += 30_000;
    const since = provider.fake.requests.length;
    provider.fake.next({ kind: "ok", firstByteDelayMs: 300 });
    const trying = chat(r);
    await waitFor(() => keysUsed(since).length === 1);
    const other = await chat(r);
    assert.equal(other.response.status, 200);
    assert.equal((await trying).response.status, 200);
    assert.deepEqual(keysUsed(since), ["a", "b"]);
    assert.equal(member(r, "a").health.state, "ok");
  });
});

describe("pool: nobody left", () => {
  beforeEach(() => provider.fake.clear());

  it("answers 429 with Retry-After set to the soonest recovery", async () => {
    const r = rig({ names: ["a", "b"] });
    provider.fake.once(KEYS.a, { ...PROVIDER_ANSWERS.quota, headers: { "retry-after": "300" } });
    provider.fake.once(KEYS.b, { ...PROVIDER_ANSWERS.quota, headers: { "retry-after": "90" } });
    const first = await chat(r);
    assert.equal(first.response.status, 429);
    const since = provider.fake.requests.length;
    const { response, text } = await chat(r);
    assert.equal(response.status, 429);
    assert.equal(response.headers.get("retry-after"), "90");
    const json = JSON.parse(text);
    assert.equal(json.error.code, "all_accounts_cooling_down");
    assert.equal(json.error.type, "rate_limit_error");
    assert.deepEqual(keysUsed(since), [], "no call while every account cools down");
  });

  it("answers 401 with each account's reason, and never a key", async () => {
    const r = rig({ names: ["a", "b"] });
    provider.fake.answer(KEYS.a, PROVIDER_ANSWERS.invalidKey);
    provider.fake.answer(KEYS.b, PROVIDER_ANSWERS.arrears);
    const first = await chat(r);
    assert.notEqual(first.response.status, 200);
    const { response, text } = await chat(r);
    assert.equal(response.status, 401);
    const json = JSON.parse(text);
    assert.equal(json.error.code, "no_usable_account");
    assert.match(json.error.message, /"a": refused by the upstream \(Incorrect API key/);
    assert.match(json.error.message, /"b": the account is in arrears/);
    for (const key of Object.values(KEYS)) assert.ok(!text.includes(key));
  });

  it("says so on /health, and ok again once an account recovers", async () => {
    const r = rig({ names: ["a"] });
    provider.fake.once(KEYS.a, { ...PROVIDER_ANSWERS.quota, headers: { "retry-after": "60" } });
    await chat(r);
    const down = await r.call("/health");
    assert.equal(down.status, 503);
    assert.match((await down.json()).reason, /cooling down.*qwen status/);
    r.clock.now += 61_000;
    const up = await r.call("/health");
    assert.equal(up.status, 200);
    await up.body?.cancel();
  });
});

describe("pool: usage and the state file", () => {
  let home: { home: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    provider.fake.clear();
    home = await tempHome();
  });
  afterEach(() => home.cleanup());

  it("counts requests and tokens from JSON and streamed answers, kept across a restart", async () => {
    const first = new StateStore(home.home, { now: () => Date.parse("2026-05-01T10:00:00Z") });
    const r = rig({ strategy: "fill-first", names: ["a"], state: first });
    await chat(r); // JSON: usage 3 + 3
    await chat(r, { ...HELLO, stream: true, stream_options: { include_usage: true } }); // 5 + 7
    await chat(r, { ...HELLO, stream: true }); // no usage asked: none counted
    await r.pool.close();
    const path = join(home.home, STATE_FILE);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const day = beijingDay(r.clock.now);
    let saved = (await readStateFile(path)).snapshot.accounts.a.usage[day];
    assert.deepEqual(
      { ...saved, errors: undefined },
      { requests: 3, prompt_tokens: 8, completion_tokens: 10, errors: undefined },
    );

    // A restart: a new process adds to what is there.
    const second = new StateStore(home.home, { now: () => r.clock.now });
    const r2 = rig({ strategy: "fill-first", names: ["a"], state: second });
    await r2.pool.maintain();
    await chat(r2);
    await r2.pool.close();
    saved = (await readStateFile(path)).snapshot.accounts.a.usage[day];
    assert.equal(saved.requests, 4);
    assert.equal(saved.prompt_tokens, 11);
    const text = await readFile(path, "utf8");
    for (const key of Object.values(KEYS)) assert.ok(!text.includes(key));
  });

  it("adds up two writers at once and keeps errors by class", async () => {
    const now = () => Date.parse("2026-05-01T10:00:00Z");
    const one = new StateStore(home.home, { now });
    const two = new StateStore(home.home, { now });
    for (let i = 0; i < 50; i++) {
      one.day("a").requests++;
      two.day("a").requests += 2;
    }
    one.day("a").errors.quota = 1;
    two.day("a").errors.quota = 2;
    two.day("b").prompt_tokens = 9;
    await Promise.all([one.sync(), two.sync()]);
    const saved = (await readStateFile(join(home.home, STATE_FILE))).snapshot;
    const day = beijingDay(now());
    assert.equal(saved.accounts.a.usage[day].requests, 150);
    assert.deepEqual(saved.accounts.a.usage[day].errors, { quota: 3 });
    assert.equal(saved.accounts.b.usage[day].prompt_tokens, 9);
  });

  it("keeps a rejection's retry_at across a restart, and tries an older rejection 30 s after it", async () => {
    const state = new StateStore(home.home, { now: () => Date.parse("2026-05-01T10:00:00Z") });
    const r = rig({ strategy: "fill-first", names: ["a", "b"], state });
    provider.fake.once(KEYS.a, PROVIDER_ANSWERS.invalidKey);
    await chat(r);
    await r.pool.close();
    const path = join(home.home, STATE_FILE);
    const health = JSON.parse(await readFile(path, "utf8")).accounts.a.health;
    assert.equal(health.state, "rejected");
    assert.equal(health.retry_at, "2026-05-01T10:00:30.000Z");
    assert.equal(health.changed_at, "2026-05-01T10:00:00.000Z");

    const r2 = rig({ strategy: "fill-first", names: ["a", "b"], state: new StateStore(home.home) });
    await r2.pool.maintain();
    assert.equal(r2.pool.members[0].health.retryAt, Date.parse("2026-05-01T10:00:30Z"));

    // A file written before there were tries: no retry_at.
    delete health.retry_at;
    delete health.strikes;
    await writeFile(path, JSON.stringify({ version: 1, accounts: { a: { health, usage: {} } } }));
    const r3 = rig({ strategy: "fill-first", names: ["a", "b"], state: new StateStore(home.home) });
    await r3.pool.maintain();
    r3.clock.now = Date.parse("2026-05-01T10:00:30Z");
    const since = provider.fake.requests.length;
    await chat(r3);
    assert.deepEqual(keysUsed(since), ["a"]);
    assert.equal(r3.pool.members[0].health.state, "ok");
    await r3.pool.close();
    assert.equal(JSON.parse(await readFile(path, "utf8")).accounts.a.health.state, "ok");
  });

  it("keeps a cooldown across a restart, and takes a clearing written by another process", async () => {
    const state = new StateStore(home.home, { now: () => Date.parse("2026-05-01T10:00:00Z") });
    const r = rig({ strategy: "fill-first", names: ["a", "b"], state });
    provider.fake.once(KEYS.a, { ...PROVIDER_ANSWERS.quota, headers: { "retry-after": "600" } });
    await chat(r);
    await r.pool.close();

    const again = new StateStore(home.home, { now: () => r.clock.now });
    const r2 = rig({ strategy: "fill-first", names: ["a", "b"], state: again });
    await r2.pool.maintain();
    assert.equal(r2.pool.members.find((m) => m.name === "a")!.health.state, "cooling_down");

    // `qwen status --probe` found it working: it writes a newer "ok".
    const status = new StateStore(home.home);
    status.setHealth("a", { state: "ok", reason: "probe_ok", changedAt: r.clock.now + 1000 });
    await status.sync();
    await r2.pool.maintain();
    assert.equal(r2.pool.members.find((m) => m.name === "a")!.health.state, "ok");
    await r2.pool.close();
  });
});

describe("pool: /metrics", () => {
  beforeEach(() => provider.fake.clear());

  it("serves the Prometheus text format behind the API keys", async () => {
    const r = rig({ strategy: "fill-first", names: ["a", "b"], apiKeys: ["proxy-key-1234"] });
    const auth = { authorization: "Bearer proxy-key-1234" };
    provider.fake.once(KEYS.a, PROVIDER_ANSWERS.quota);
    await (await r.call("/v1/chat/completions", { json: HELLO, headers: auth })).text();
    await (await r.call("/v1/chat/completions", {
      json: { ...HELLO, stream: true, stream_options: { include_usage: true } },
      headers: auth,
    })).text();

    const refused = await r.call("/metrics");
    assert.equal(refused.status, 401);
    await refused.body?.cancel();
    const response = await r.call("/metrics", { headers: auth });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^# HELP qwen_requests_total /m);
    assert.match(text, /^# TYPE qwen_requests_total counter$/m);
    assert.match(text, /^qwen_requests_total\{status="200",model="coder-model",account="b"\} 2$/m);
    assert.match(text, /^qwen_upstream_errors_total\{account="a",class="quota"\} 1$/m);
    assert.match(text, /^qwen_tokens_total\{account="b",kind="completion"\} 10$/m);
    assert.match(text, /^qwen_request_duration_seconds_bucket\{le="\+Inf"\} 3$/m);
    assert.match(text, /^qwen_request_duration_seconds_count 3$/m);
    assert.match(text, /^qwen_open_streams 0$/m);
    assert.match(text, /^qwen_account_available\{account="a",state="cooling_down"\} 0$/m);
    assert.match(text, /^qwen_account_available\{account="b",state="ok"\} 1$/m);
    // Every sample line is `name{labels} value`.
    for (const line of text.trim().split("\n")) {
      if (line.startsWith("#")) continue;
      assert.match(line, /^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$/, line);
    }
    for (const key of [...Object.values(KEYS), "proxy-key-1234"]) assert.ok(!text.includes(key));
  });

  it("refuses a foreign Host like /v1 does", async () => {
    const r = rig();
    const response = await r.app(
      new Request("http://127.0.0.1:8080/metrics", { headers: { host: "evil.example" } }),
    );
    assert.equal(response.status, 403);
    await response.body?.cancel();
  });
});

describe("pool: model map and /v1/models", () => {
  beforeEach(() => {
    provider.fake.clear();
    provider.fake.modelIds = ["coder-model", "qwen3-coder-plus"];
  });

  it("maps coder-model for API keys and forwards unmapped bodies byte for byte", async () => {
    const r = rig({ strategy: "fill-first", names: ["a"] });
    await chat(r, { ...HELLO, model: "coder-model", temperature: 0.1 });
    const sent = JSON.parse(provider.fake.requests.at(-1)!.body);
    assert.equal(sent.model, "qwen3-coder-plus");
    assert.equal(sent.temperature, 0.1);
    await chat(r, { ...HELLO, model: "vision-model" });
    assert.equal(JSON.parse(provider.fake.requests.at(-1)!.body).model, "qwen3-vl-plus");
    const raw = '{"model":"qwen-max",  "messages":[{"role":"user","content":"hi"}]}';
    const response = await r.call("/v1/chat/completions", {
      method: "POST",
      body: raw,
      headers: { "content-type": "application/json" },
    });
    await response.text();
    assert.equal(provider.fake.requests.at(-1)!.body, raw);
    // No model at all: the account's coder-model.
    await chat(r, { messages: HELLO.messages });
    assert.equal(JSON.parse(provider.fake.requests.at(-1)!.body).model, "qwen3-coder-plus");
  });

  it("lets --model-map override the table and add names", async () => {
    const r = rig({
      strategy: "fill-first",
      names: ["a"],
      modelMap: { "coder-model": "qwen3-coder-flash", "gpt-4o": "qwen3-max" },
    });
    await chat(r, { ...HELLO, model: "coder-model" });
    assert.equal(JSON.parse(provider.fake.requests.at(-1)!.body).model, "qwen3-coder-flash");
    await chat(r, { ...HELLO, model: "gpt-4o" });
    assert.equal(JSON.parse(provider.fake.requests.at(-1)!.body).model, "qwen3-max");
    await chat(r, { ...HELLO, model: "constructor" });
    assert.equal(JSON.parse(provider.fake.requests.at(-1)!.body).model, "constructor");
    // What decides whether a body is sent as it came.
    assert.equal(r.pool.mapsModel("gpt-4o"), true);
    assert.equal(r.pool.mapsModel("qwen3-max"), false);
    assert.equal(r.pool.mapsModel("constructor"), false);
  });

  it("lists the account's chat models without speech, embedding, image or video ones, plus aliases", async () => {
    provider.fake.modelIds = [
      "qwen3-coder-plus",
      "qwen3-vl-plus",
      "qwen-max",
      "qwen3-asr-flash",
      "qwen-tts",
      "text-embedding-v4",
      "gte-rerank-v2",
      "qwen-image-plus",
      "wanx2.1-t2i-turbo",
      "wan2.2-t2v-plus",
      "paraformer-realtime-v2",
      "qwen-omni-turbo-realtime",
    ];
    const r = rig({ strategy: "fill-first", names: ["a"] });
    const response = await r.call("/v1/models");
    assert.equal(response.status, 200);
    const ids = (await response.json()).data.map((m: { id: string }) => m.id);
    assert.deepEqual(ids, [
      "qwen3-coder-plus",
      "qwen3-vl-plus",
      "qwen-max",
      "coder-model",
      "vision-model",
    ]);
  });

  it("falls back to the aliases and their models when the upstream has no list", async () => {
    provider.fake.models = false;
    try {
      const r = rig({ strategy: "fill-first", names: ["a"] });
      const ids = (await (await r.call("/v1/models")).json()).data.map((m: { id: string }) => m.id);
      assert.deepEqual(ids, ["qwen3-coder-plus", "qwen3-vl-plus", "coder-model", "vision-model"]);
    } finally {
      provider.fake.models = true;
    }
  });
});

describe("API-key headers", () => {
  it("sends X-DashScope-CacheControl on Alibaba hosts only, and the client's User-Agent", () => {
    const on = (baseUrl: string) =>
      authHeaders({ token: "sk-x", baseUrl, kind: "api_key" }, "qwen/1 (linux; x64)", "cline/3");
    const alibaba = on("https://dashscope-intl.aliyuncs.com/compatible-mode/v1");
    assert.equal(alibaba["x-dashscope-cachecontrol"], "enable");
    assert.equal(alibaba["user-agent"], "cline/3");
    assert.equal(alibaba.authorization, "Bearer sk-x");
    assert.equal(alibaba["x-dashscope-authtype"], undefined);
    assert.equal(on("https://openrouter.ai/api/v1")["x-dashscope-cachecontrol"], undefined);
    assert.equal(on("http://127.0.0.1:9/v1")["x-dashscope-cachecontrol"], undefined);
  });
});

describe("usage from the end of an answer", () => {
  const enc = new TextEncoder();
  it("takes the last usage object, skipping usage:null and strings that look like one", () => {
    const text = 'data: {"usage":null,"c":"\\"usage\\":{}"}\n\n' +
      'data: {"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":4}}\n\ndata: [DONE]\n\n';
    assert.deepEqual(findUsage(text), { promptTokens: 11, completionTokens: 4 });
    assert.equal(findUsage('{"usage":null}'), undefined);
    assert.equal(findUsage('{"usage":{"prompt_tokens":1'), undefined);
  });

  it("finds it across chunk boundaries, and in a JSON answer", () => {
    const event = 'data: {"usage":{"prompt_tokens":2,"completion_tokens":3}}\n\n';
    const chunks = [event.slice(0, 20), event.slice(20), "data: [DONE]\n\n"].map((c) =>
      enc.encode(c)
    );
    assert.deepEqual(usageFromChunks(chunks), { promptTokens: 2, completionTokens: 3 });
    const json = enc.encode(
      JSON.stringify({ usage: { prompt_tokens: 7, completion_tokens: 1 }, x: "y".repeat(20_000) }),
    );
    assert.deepEqual(usageFromBytes(json), { promptTokens: 7, completionTokens: 1 });
  });
});

describe("usage search on bytes", () => {
  const enc = new TextEncoder();
  it("ends on inputs shorter than the key and on answers without usage", () => {
    assert.equal(usageFromBytes(enc.encode("")), undefined);
    assert.equal(usageFromBytes(enc.encode('"us')), undefined);
    assert.equal(usageFromBytes(enc.encode('{"a":"b"}')), undefined);
    assert.equal(usageFromChunks([enc.encode('"usa'), enc.encode('ge":{"x":1}')]), undefined);
  });

  it("reads input_tokens/output_tokens and a key split over two chunks", () => {
    const chunks = ['data: {"us', 'age": {"input_tokens":5,"output_tokens":6}}\n\n'].map((c) =>
      enc.encode(c)
    );
    assert.deepEqual(usageFromChunks(chunks), { promptTokens: 5, completionTokens: 6 });
  });
});

describe("usage counts read in place", () => {
  const enc = new TextEncoder();
  const usageOf = (object: string) => usageFromBytes(enc.encode(`{"id":"x","usage":${object}}`));

  it("reads top-level counts and skips nested ones and strings", () => {
    assert.deepEqual(
      usageOf(
        '{"prompt_tokens_details":{"cached_tokens":9,"prompt_tokens":99},"note":"a}b",' +
          '"prompt_tokens": 12, "completion_tokens":3,"total_tokens":15}',
      ),
      { promptTokens: 12, completionTokens: 3 },
    );
    assert.deepEqual(usageOf('{"input_tokens":4,"output_tokens":5}'), {
      promptTokens: 4,
      completionTokens: 5,
    });
    assert.deepEqual(usageOf('{"completion_tokens":7}'), { promptTokens: 0, completionTokens: 7 });
  });

  it("leaves the unusual to JSON.parse: escapes, negative or fractional numbers, null", () => {
    assert.deepEqual(usageOf('{"prompt_\\u0074okens":2,"completion_tokens":1}'), {
      promptTokens: 2,
      completionTokens: 1,
    });
    assert.deepEqual(usageOf('{"prompt_tokens":-1,"completion_tokens":1.5}'), {
      promptTokens: 0,
      completionTokens: 1.5,
    });
    assert.deepEqual(usageOf('{"prompt_tokens":null,"input_tokens":6}'), {
      promptTokens: 6,
      completionTokens: 0,
    });
    assert.equal(usageOf('{"total_tokens":3}'), undefined);
  });
});
