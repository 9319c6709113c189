import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { runInProcess } from "../helpers/fake-context.ts";
import { storeKeyFile, type TempHomes, tempHomes, writeCreds } from "../helpers/temp-homes.ts";
import {
  PROVIDER_ANSWERS,
  type RunningFakeUpstream,
  startFakeUpstream,
} from "../helpers/fake-upstream.ts";
import { SWITCH_COMMANDS } from "../../src/upstream/classify.ts";

const GOOD = "sk-good0000000000aaaa";
const BAD = "sk-bad00000000000bbbb";
const QUOTA = "sk-quota000000000cccc";
const OAUTH_TOKEN = "oauth-access-secret";

let homes: TempHomes;
let provider: RunningFakeUpstream;

before(async () => {
  homes = await tempHomes();
  provider = await startFakeUpstream();
  provider.fake.answer(BAD, PROVIDER_ANSWERS.invalidKey);
  provider.fake.answer(QUOTA, PROVIDER_ANSWERS.quota);
  provider.fake.answer(OAUTH_TOKEN, PROVIDER_ANSWERS.oauthRefused);
});
after(async () => {
  await provider.close();
  await homes.cleanup();
});

function storeKey(home: string, name: string, key: string, baseUrl = provider.baseUrl) {
  return storeKeyFile(home, name, key, baseUrl);
}

async function storeOAuth(home: string) {
  await writeCreds(home, "default", {
    access_token: OAUTH_TOKEN,
    refresh_token: "refresh-secret",
    token_type: "Bearer",
    resource_url: provider.server.url,
    expiry_date: Date.now() + 3_600_000,
  });
}

function status(home: string, args: string[], env: Record<string, string> = {}) {
  return runInProcess(["status", ...args], {
    home,
    env: { QWEN_OAUTH_BASE_URL: "http://127.0.0.1:9", ...env },
  });
}

interface JsonAccount {
  name: string;
  type: string;
  file: string | null;
  state: string;
  provider: string | null;
  env: string | null;
  key_fingerprint: string | null;
  cooldown_until: string | null;
  usage_today: unknown;
  base_url: string | null;
  error: string | null;
  probe: { result: string; status: number | null; message: string } | null;
}

function assertNoSecret(text: string) {
  for (const secret of [GOOD, BAD, QUOTA, OAUTH_TOKEN, "refresh-secret", "sk-envkey"]) {
    assert.ok(!text.includes(secret), `no secret in the output (${secret.slice(0, 6)})`);
  }
}

describe("qwen status with API-key accounts", () => {
  it("lists OAuth, stored and environment keys with the new JSON fields, offline", async () => {
    const home = await homes.fresh();
    await storeOAuth(home);
    await storeKey(home, "dash", GOOD);
    await writeCreds(home, "qwen_key_broken.json", "{");
    const before = provider.fake.requests.length;
    const r = await status(home, ["--json"], {
      DASHSCOPE_API_KEY: "sk-envkey000000dddd",
      DASHSCOPE_BASE_URL: provider.baseUrl,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(provider.fake.requests.length, before, "no network without --probe");
    assertNoSecret(r.stdout + r.stderr);
    const accounts = JSON.parse(r.stdout).accounts as JsonAccount[];
    assert.deepEqual(
      accounts.map((a) => [a.name, a.type, a.provider, a.state, a.key_fingerprint, a.env]),
      [
        ["default", "oauth", "qwen-oauth", "valid", null, null],
        ["broken", "api_key", null, "invalid", null, null],
        ["dash", "api_key", "dashscope", "valid", "sk-…aaaa", null],
        ["env-dashscope", "api_key", "dashscope", "valid", "sk-…dddd", "DASHSCOPE_API_KEY"],
      ],
    );
    for (const a of accounts) {
      assert.equal(a.cooldown_until, null);
      assert.equal(a.usage_today, null);
      assert.equal(a.probe, null);
    }
    assert.equal(accounts[2].file, join(home, "qwen_key_dash.json"));
    assert.equal(accounts[2].base_url, provider.baseUrl);
    assert.equal(accounts[3].file, null);
    assert.match(accounts[1].error!, /not valid JSON/);

    const text = await status(home, [], { DASHSCOPE_API_KEY: "sk-envkey000000dddd" });
    assert.match(text.stdout, /Account "dash" \(api_key, dashscope\): valid/);
    assert.match(text.stdout, /Key: +sk-…aaaa/);
    assert.match(
      text.stdout,
      /Account "env-dashscope" \(api_key, dashscope\): valid\n {2}From: +the variable DASHSCOPE_API_KEY/,
    );
    assertNoSecret(text.stdout + text.stderr);
  });

  it("selects one account of any kind with --account", async () => {
    const home = await homes.fresh();
    await storeOAuth(home);
    await storeKey(home, "dash", GOOD);
    const r = await status(home, ["--json", "--account", "dash"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout).accounts as JsonAccount[]).map((a) => a.name), ["dash"]);
    const env = await status(home, ["--json", "--account", "env-openrouter"], {
      OPENROUTER_API_KEY: "sk-or-v1-envkey00000",
    });
    assert.equal(env.code, 0, env.stderr);
    assert.equal(JSON.parse(env.stdout).accounts[0].provider, "openrouter");
  });

  it("exits 1 for a malformed environment key", async () => {
    const home = await homes.fresh();
    const r = await status(home, ["--json"], { BAILIAN_CODING_PLAN_API_KEY: "sk-envkeynotsp" });
    assert.equal(r.code, 1, r.stderr);
    const [a] = JSON.parse(r.stdout).accounts as JsonAccount[];
    assert.equal(a.name, "env-coding-plan");
    assert.equal(a.state, "invalid");
    assert.match(a.error!, /start with "sk-sp-"/);
    assertNoSecret(r.stdout);
  });
});

describe("qwen status --probe", () => {
  it("exits 0 when some probed account answers, reporting each one", async () => {
    const home = await homes.fresh();
    await storeKey(home, "good", GOOD);
    await storeKey(home, "bad", BAD);
    await storeKey(home, "quota", QUOTA);
    const r = await status(home, ["--probe", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assertNoSecret(r.stdout + r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.usable, true);
    const probes = Object.fromEntries(
      (report.accounts as JsonAccount[]).map((a) => [a.name, a.probe!]),
    );
    assert.equal(probes.good.result, "ok");
    assert.equal(probes.good.status, 200);
    assert.equal(probes.bad.result, "invalid_key");
    assert.equal(probes.bad.status, 401);
    assert.equal(probes.quota.result, "quota");
    assert.equal(probes.quota.status, 429);
  });

  it("exits 5 when every probed account was refused", async () => {
    const home = await homes.fresh();
    await storeKey(home, "bad", BAD);
    await storeKey(home, "quota", QUOTA);
    const r = await status(home, ["--probe", "--json"]);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(JSON.parse(r.stdout).usable, false);
    const text = await status(home, ["--probe"]);
    assert.equal(text.code, 5);
    assert.match(text.stdout, /Probe: +invalid_key \(HTTP 401\)/);
    assert.match(text.stdout, /Probe: +quota \(HTTP 429\)\n +.*quota is exhausted/);
    assert.match(text.stdout, /Usable: no \(0 of 2 accounts answered\)/);
  });

  it("probes only the --account given", async () => {
    const home = await homes.fresh();
    await storeKey(home, "good", GOOD);
    await storeKey(home, "bad", BAD);
    const r = await status(home, ["--probe", "--json", "--account", "bad"]);
    assert.equal(r.code, 5, r.stderr);
    const accounts = JSON.parse(r.stdout).accounts as JsonAccount[];
    assert.deepEqual(accounts.map((a) => a.name), ["bad"]);
  });

  it("explains the OAuth discontinuation and the exact command to switch", async () => {
    const home = await homes.fresh();
    await storeOAuth(home);
    const before = provider.fake.requests.length;
    const r = await status(home, ["--probe", "--json"]);
    assert.equal(r.code, 5, r.stderr);
    const [a] = JSON.parse(r.stdout).accounts as JsonAccount[];
    assert.equal(a.state, "valid", "the file itself is fine");
    assert.equal(a.probe!.result, "oauth_discontinued");
    assert.equal(a.probe!.status, 401);
    assert.match(a.probe!.message, /discontinued on 2026-04-15/);
    assert.ok(a.probe!.message.includes(SWITCH_COMMANDS[0]));
    // The official header set went with the OAuth token.
    const [call] = provider.fake.requests.slice(before);
    assert.equal(call.headers.get("x-dashscope-authtype"), "qwen-oauth");
    assert.equal(call.headers.get("x-dashscope-cachecontrol"), "enable");
    assert.equal(JSON.parse(call.body).model, "coder-model");

    const text = await status(home, ["--probe"]);
    assert.equal(text.code, 5);
    assert.match(text.stdout, /oauth_discontinued/);
    assert.ok(text.stdout.includes(`qwen auth --provider coding-plan`));
    assert.ok(text.stdout.includes(`Next:      run '${SWITCH_COMMANDS[0]}'`));
    assertNoSecret(text.stdout + text.stderr);
  });

  it("exits 1, not 0, when no upstream answered", async () => {
    const home = await homes.fresh();
    await storeKey(home, "down", GOOD, "http://127.0.0.1:9/v1");
    const r = await status(home, ["--probe", "--json"]);
    assert.equal(r.code, 1, r.stderr);
    const [a] = JSON.parse(r.stdout).accounts as JsonAccount[];
    assert.equal(a.state, "valid");
    assert.equal(a.probe!.result, "unreachable");
    assert.equal(a.probe!.status, null);
  });

  it("reports an unusable file without calling anyone, and probes environment keys", async () => {
    const home = await homes.fresh();
    await writeCreds(home, "qwen_key_broken.json", "[]");
    const before = provider.fake.requests.length;
    const r = await status(home, ["--probe", "--json"], {
      DASHSCOPE_API_KEY: GOOD,
      DASHSCOPE_BASE_URL: provider.baseUrl,
    });
    assert.equal(r.code, 0, r.stderr);
    const accounts = JSON.parse(r.stdout).accounts as JsonAccount[];
    assert.deepEqual(accounts.map((a) => [a.name, a.probe?.result]), [
      ["broken", "credentials_error"],
      ["env-dashscope", "ok"],
    ]);
    assert.equal(provider.fake.requests.length, before + 1);
  });
});
