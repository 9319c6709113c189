/**
 * The pool end to end: `qwen serve` with a stored key and an environment key against the fake
 * provider, its state file after shutdown, and `qwen status` reading it (and `--probe` clearing a
 * cooldown).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { STATE_FILE } from "../../src/pool/state-file.ts";
import { beijingDay } from "../../src/lib/time.ts";
import {
  PROVIDER_ANSWERS,
  type RunningFakeUpstream,
  startFakeUpstream,
} from "../helpers/fake-upstream.ts";
import { runInProcess } from "../helpers/fake-context.ts";
import { type RunningServe, startServe, stopServe } from "../helpers/serve-process.ts";
import { storeKeyFile, type TempHomes, tempHomes } from "../helpers/temp-homes.ts";
import { waitFor } from "../helpers/wait-for.ts";

const STORED = "sk-stored0000000000aaaa";
const ENV_KEY = "sk-envkey0000000000bbbb";
const HELLO = { model: "coder-model", messages: [{ role: "user", content: "hi" }] };

let homes: TempHomes;
let provider: RunningFakeUpstream;

before(async () => {
  homes = await tempHomes();
  provider = await startFakeUpstream();
});
after(async () => {
  await provider.close();
  await homes.cleanup();
});

function storeKey(home: string, name: string, key: string) {
  return storeKeyFile(home, name, key, provider.baseUrl);
}

function serve(home: string, args: string[] = []): Promise<RunningServe> {
  return startServe(["--strategy", "fill-first", ...args], {
    QWEN_HOME: home,
    QWEN_OAUTH_BASE_URL: "http://127.0.0.1:9",
    DASHSCOPE_API_KEY: ENV_KEY,
    DASHSCOPE_BASE_URL: provider.baseUrl,
  });
}

describe("qwen serve with several accounts", () => {
  it("fails a quota over to the environment key, then writes usage and the cooldown", {
    timeout: 30_000,
  }, async () => {
    const home = await homes.fresh();
    await storeKey(home, "work", STORED);
    provider.fake.answer(STORED, PROVIDER_ANSWERS.quota);
    const s = await serve(home);
    try {
      const url = s.url;
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "opencode/1" },
          body: JSON.stringify(HELLO),
        });
        assert.equal(response.status, 200);
        assert.equal((await response.json()).choices[0].message.content, "Hello!");
      }
      assert.equal(provider.fake.callsWith(STORED).length, 1, "cooled down after one quota");
      const sent = provider.fake.callsWith(ENV_KEY);
      assert.equal(sent.length, 3);
      assert.equal(JSON.parse(sent[0].body).model, "qwen3-coder-plus");
      assert.equal(sent[0].headers.get("user-agent"), "opencode/1");
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
    } finally {
      provider.fake.clear();
      assert.equal((await stopServe(s, "SIGTERM"))?.code, 0);
    }
    const text = await readFile(join(home, STATE_FILE), "utf8");
    assert.ok(!text.includes(STORED) && !text.includes(ENV_KEY));
    const state = JSON.parse(text);
    const day = beijingDay(Date.now());
    assert.equal(state.accounts["env-dashscope"].usage[day].requests, 3);
    assert.equal(state.accounts["env-dashscope"].usage[day].prompt_tokens, 9);
    assert.equal(state.accounts.work.health.state, "cooling_down");
    assert.equal(state.accounts.work.usage[day].errors.quota, 1);

    // qwen status (in process) tells the truth about it.
    const status = await runInProcess(["status", "--json"], {
      home,
      env: { DASHSCOPE_API_KEY: ENV_KEY, DASHSCOPE_BASE_URL: provider.baseUrl },
    });
    const report = JSON.parse(status.stdout);
    const work = report.accounts.find((a: { name: string }) => a.name === "work");
    assert.equal(work.state, "cooling_down");
    assert.ok(Date.parse(work.cooldown_until) > Date.now());
    assert.equal(work.usage_today.requests, 1);
    const env = report.accounts.find((a: { name: string }) => a.name === "env-dashscope");
    assert.deepEqual(env.usage_today, { requests: 3, prompt_tokens: 9, completion_tokens: 9 });
    const textStatus = await runInProcess(["status"], { home });
    assert.match(textStatus.stdout, /Account "work" \(api_key, dashscope\): cooling down/);
    assert.match(textStatus.stdout, /Cooldown: {2}until /);
    assert.match(textStatus.stdout, /Today: {5}1 requests/);

    // The quota is back: a probe that answers ends the cooldown for everyone.
    const probe = await runInProcess(["status", "--probe", "--account", "work", "--json"], {
      home,
    });
    assert.equal(probe.code, 0, probe.stderr);
    assert.equal(JSON.parse(probe.stdout).accounts[0].state, "valid");
    const after = JSON.parse(await readFile(join(home, STATE_FILE), "utf8"));
    assert.equal(after.accounts.work.health.state, "ok");
    assert.equal(after.accounts["env-dashscope"].usage[day].requests, 3, "usage kept");
  });

  it("restricts the pool with --account", async () => {
    const home = await homes.fresh();
    await storeKey(home, "work", STORED);
    const before = provider.fake.callsWith(ENV_KEY).length;
    const s = await serve(home, ["--account", "work"]);
    try {
      const url = s.url;
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(HELLO),
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      assert.equal(provider.fake.callsWith(ENV_KEY).length, before);
      assert.equal(provider.fake.callsWith(STORED).length > 0, true);
    } finally {
      await stopServe(s, "SIGTERM");
    }
  });

  it("takes a key stored while serving, without a restart", { timeout: 30_000 }, async () => {
    const home = await homes.fresh();
    const s = await serve(home, ["--account", "late"]);
    try {
      const url = s.url;
      const none = await fetch(`${url}/health`);
      assert.equal(none.status, 503);
      await none.body?.cancel();
      await storeKey(home, "late", STORED);
      await waitFor(async () => {
        const health = await fetch(`${url}/health`);
        await health.body?.cancel();
        return health.status === 200;
      }, { what: "the new key to be picked up", timeoutMs: 10_000, intervalMs: 100 });
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(HELLO),
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      // Log lines are written in batches, a few milliseconds late.
      await waitFor(() => /account "late" joined the pool/.test(s.stderr()), {
        timeoutMs: 2_000,
        intervalMs: 50,
      });
      assert.match(s.stderr(), /account "late" joined the pool/);
    } finally {
      await stopServe(s, "SIGTERM");
    }
  });
});
