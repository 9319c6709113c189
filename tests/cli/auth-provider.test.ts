import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { fakeContext, runInProcess } from "../helpers/fake-context.ts";
import { runCli } from "../helpers/run-cli.ts";
import { type TempHomes, tempHomes, writeCreds } from "../helpers/temp-homes.ts";
import {
  PROVIDER_ANSWERS,
  type RunningFakeUpstream,
  startFakeUpstream,
} from "../helpers/fake-upstream.ts";
import { runAuth } from "../../src/commands/auth.ts";

const KEY = "sk-0123456789abcdef9f2c";
const SP_KEY = "sk-sp-0123456789abcdef1a2b";

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

/** A QWEN_HOME that does not exist yet: `qwen auth` creates it. */
function freshHome(): string {
  return join(homes.next(), ".qwen");
}

/** In process, stdin given as text; the first test below pipes it to a real process. */
function auth(
  args: string[],
  home: string,
  options: { stdin?: string; env?: Record<string, string> } = {},
) {
  return runInProcess(["auth", ...args], {
    home,
    env: { QWEN_OAUTH_BASE_URL: "http://127.0.0.1:9", ...options.env },
    stdin: options.stdin,
  });
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, "utf8"));
}

async function files(home: string): Promise<string[]> {
  return await readdir(home).catch(() => []);
}

function assertNoKey(text: string, key = KEY) {
  assert.ok(!text.includes(key), "the key never appears in the output");
}

describe("qwen auth --provider", () => {
  it("stores a key piped on stdin, mode 0600, in the documented format, and verifies it", async () => {
    const home = freshHome();
    const before = provider.fake.requests.length;
    const r = await runCli(["auth", "--provider", "dashscope", "--base-url", provider.baseUrl], {
      env: { QWEN_HOME: home, QWEN_OAUTH_BASE_URL: "http://127.0.0.1:9" },
      stdin: `${KEY}\n`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    assertNoKey(r.stdout + r.stderr);
    assert.match(r.stderr, /Stored the .* key sk-…9f2c as account "dashscope"/);
    assert.match(r.stderr, /Verified/);
    const path = join(home, "qwen_key_dashscope.json");
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const json = await readJson(path);
    assert.deepEqual(Object.keys(json), [
      "version",
      "type",
      "provider",
      "base_url",
      "api_key",
      "created_at",
    ]);
    assert.equal(json.version, 1);
    assert.equal(json.type, "api_key");
    assert.equal(json.provider, "dashscope");
    assert.equal(json.base_url, provider.baseUrl);
    assert.equal(json.api_key, KEY);
    assert.ok(!Number.isNaN(Date.parse(String(json.created_at))));
    const calls = provider.fake.requests.slice(before);
    assert.equal(calls.length, 1, "one probe call");
    assert.equal(calls[0].authorization, `Bearer ${KEY}`);
    assert.equal(JSON.parse(calls[0].body).max_tokens, 1);
  });

  it("reads the key from the preset's variable when stdin is empty", async () => {
    const home = freshHome();
    const r = await auth(
      ["--provider", "coding-plan", "--base-url", provider.baseUrl, "--account", "cp"],
      home,
      {
        stdin: "",
        env: { BAILIAN_CODING_PLAN_API_KEY: SP_KEY },
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assertNoKey(r.stderr, SP_KEY);
    assert.match(r.stderr, /sk-sp-…1a2b as account "cp"/);
    const json = await readJson(join(home, "qwen_key_cp.json"));
    assert.equal(json.api_key, SP_KEY);
    assert.equal(json.provider, "coding-plan");
  });

  it("prefers piped stdin over the variable", async () => {
    const home = freshHome();
    const r = await auth(["--provider", "dashscope", "--no-verify"], home, {
      stdin: KEY,
      env: { DASHSCOPE_API_KEY: "sk-fromtheenv00000" },
    });
    assert.equal(r.code, 0, r.stderr);
    const json = await readJson(join(home, "qwen_key_dashscope.json"));
    assert.equal(json.api_key, KEY);
    assert.equal(json.base_url, "https://dashscope-intl.aliyuncs.com/compatible-mode/v1");
  });

  it("stores each preset with its own base URL (--no-verify, nothing sent)", async () => {
    const home = freshHome();
    const before = provider.fake.requests.length;
    const r = await auth(["--provider", "token-plan-cn", "--no-verify"], home, { stdin: KEY });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Not verified \(--no-verify\)/);
    const json = await readJson(join(home, "qwen_key_token-plan-cn.json"));
    assert.equal(
      json.base_url,
      "https://token-plan.cn-beijing.maas.aliyuncs.com/compatible-mode/v1",
    );
    assert.equal(provider.fake.requests.length, before);
  });

  it("exits 2 without a key, and stores nothing", async () => {
    const home = freshHome();
    const r = await auth(["--provider", "dashscope"], home, { stdin: "" });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /No API key for provider "dashscope": pipe it on stdin .* set "DASHSCOPE_API_KEY"/,
    );
    assert.deepEqual(await files(home), []);
  });

  it("refuses malformed keys before storing anything (exit 2)", async () => {
    const home = freshHome();
    const cases: [string[], string, RegExp][] = [
      [
        ["--provider", "coding-plan"],
        KEY,
        /Coding Plan keys start with "sk-sp-"; nothing was stored/,
      ],
      [["--provider", "coding-plan-cn"], "sk-sp- 0123456789", /whitespace; nothing was stored/],
      [["--provider", "dashscope"], "sk-0123\t456789abc", /whitespace/],
      [["--provider", "openrouter"], "x7q2", /too short/],
    ];
    for (const [args, key, message] of cases) {
      const r = await auth(args, home, { stdin: key });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assertNoKey(r.stderr, key);
    }
    assert.deepEqual(await files(home), []);
  });

  it("keeps a refused key stored and exits 5 with the reason", async () => {
    const home = freshHome();
    const bad = "sk-refused0000000099";
    provider.fake.answer(bad, PROVIDER_ANSWERS.invalidKey);
    const r = await auth(["--provider", "dashscope", "--base-url", provider.baseUrl], home, {
      stdin: bad,
    });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /Refused \(invalid_key\): .* refused the key/);
    assert.match(r.stderr, /stays stored/);
    assertNoKey(r.stderr, bad);
    assert.equal((await readJson(join(home, "qwen_key_dashscope.json"))).api_key, bad);
  });

  it("explains a Coding Plan 405 and exits 5", async () => {
    const home = freshHome();
    const key = "sk-sp-agentsonly0000077";
    provider.fake.answer(key, PROVIDER_ANSWERS.codingPlanClient);
    const r = await auth(["--provider", "coding-plan", "--base-url", provider.baseUrl], home, {
      stdin: key,
    });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /coding_plan_client.*coding tools/);
  });

  it("exits 1 when the upstream cannot be reached, keeping the key", async () => {
    const home = freshHome();
    const r = await auth(["--provider", "custom", "--base-url", "http://127.0.0.1:9/v1"], home, {
      stdin: KEY,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Not verified \(unreachable\)/);
    assert.equal((await readJson(join(home, "qwen_key_custom.json"))).provider, "custom");
    // The help's line for the preset does not read as a sentence.
    assert.match(r.stderr, /Stored the OpenAI-compatible key sk-…9f2c as account "custom"/);
    assert.ok(!r.stderr.includes("needs --base-url"), r.stderr);
  });

  it("needs --base-url for custom and refuses flags that do not fit", async () => {
    const home = freshHome();
    const custom = await auth(["--provider", "custom"], home, { stdin: KEY });
    assert.equal(custom.code, 2);
    assert.match(custom.stderr, /Provider "custom" needs "--base-url URL"/);
    const unknown = await auth(["--provider", "nope"], home, { stdin: KEY });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown provider "nope"/);
    const qr = await auth(["--provider", "dashscope", "--qr"], home, { stdin: KEY });
    assert.equal(qr.code, 2);
    assert.match(qr.stderr, /Flag "--qr" cannot be combined with "--provider"/);
    const noVerify = await auth(["--no-verify"], home);
    assert.equal(noVerify.code, 2);
    assert.match(noVerify.stderr, /Flag "--no-verify" needs "--provider PRESET"/);
    const badUrl = await auth(["--provider", "dashscope", "--base-url", "ftp://x"], home, {
      stdin: KEY,
    });
    assert.equal(badUrl.code, 2);
    assert.deepEqual(await files(home), []);
  });

  it("keeps names apart: env- and default are reserved, an OAuth name is taken", async () => {
    const home = freshHome();
    const env = await auth(["--provider", "dashscope", "--account", "env-dashscope"], home, {
      stdin: KEY,
    });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /kept for keys from environment variables/);
    const def = await auth(["--provider", "dashscope", "--account", "default"], home, {
      stdin: KEY,
    });
    assert.equal(def.code, 2);
    await writeCreds(home, "work", "{}");
    const taken = await auth(["--provider", "dashscope", "--account", "work"], home, {
      stdin: KEY,
    });
    assert.equal(taken.code, 2);
    assert.match(taken.stderr, /Account "work" is already an OAuth login/);
    assert.deepEqual(await files(home), ["oauth_creds_work.json"]);
    // And the OAuth login refuses a name held by a key.
    await auth(["--provider", "dashscope", "--account", "keyed", "--no-verify"], home, {
      stdin: KEY,
    });
    const oauth = await auth(["--account", "keyed"], home);
    assert.equal(oauth.code, 2);
    assert.match(oauth.stderr, /Account "keyed" is already an API-key account/);
  });

  it("reports a corrupt key file instead of overwriting it, unless --force", async () => {
    const home = freshHome();
    const path = await writeCreds(home, "qwen_key_dashscope.json", "{ not json");
    const r = await auth(["--provider", "dashscope", "--no-verify"], home, { stdin: KEY });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exists but cannot be used \(not valid JSON\).*--force/);
    assert.equal(await readFile(path, "utf8"), "{ not json");
    const forced = await auth(["--provider", "dashscope", "--no-verify", "--force"], home, {
      stdin: KEY,
    });
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((await readJson(path)).api_key, KEY);
  });

  it("replaces a stored key and names the old one by its fingerprint", async () => {
    const home = freshHome();
    await auth(["--provider", "dashscope", "--no-verify"], home, { stdin: KEY });
    const r = await auth(["--provider", "dashscope", "--no-verify"], home, {
      stdin: "sk-newkey00000000beef",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /sk-…beef \(replacing sk-…9f2c\)/);
  });

  it("tells a new key that ends like the old one from the same key stored again", async () => {
    const home = freshHome();
    await auth(["--provider", "dashscope", "--no-verify"], home, { stdin: KEY });
    const other = await auth(["--provider", "dashscope", "--no-verify"], home, {
      stdin: "sk-otherkey000000009f2c",
    });
    assert.equal(other.code, 0, other.stderr);
    assert.match(other.stderr, /sk-…9f2c \(replacing a different key that also ends in 9f2c\)/);
    const same = await auth(["--provider", "dashscope", "--no-verify"], home, {
      stdin: "sk-otherkey000000009f2c",
    });
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stderr, /sk-…9f2c \(the same key as before\)/);
    assert.ok(!same.stderr.includes("replacing"), same.stderr);
  });

  it("lists the presets in its help", async () => {
    const r = await auth(["--help"], freshHome());
    assert.equal(r.code, 0);
    for (
      const preset of [
        "coding-plan",
        "coding-plan-cn",
        "token-plan",
        "token-plan-cn",
        "dashscope",
        "dashscope-cn",
        "dashscope-us",
        "openrouter",
        "custom",
      ]
    ) {
      assert.match(r.stdout, new RegExp(`^  ${preset} `, "m"));
    }
    assert.match(r.stdout, /--no-verify/);
    assert.match(r.stdout, /BAILIAN_CODING_PLAN_API_KEY/);
  });
});

describe("qwen auth --logout of any kind", () => {
  it("removes a key account, an OAuth account, and refuses an environment account", async () => {
    const home = freshHome();
    await auth(["--provider", "openrouter", "--account", "or", "--no-verify"], home, {
      stdin: KEY,
    });
    await writeCreds(home, "work", "{}");
    const key = await auth(["--logout", "--account", "or"], home);
    assert.equal(key.code, 0, key.stderr);
    assert.match(key.stderr, /Logged out \(account "or"\): removed ".*qwen_key_or\.json"/);
    const oauth = await auth(["--logout", "--account", "work"], home);
    assert.equal(oauth.code, 0);
    assert.match(oauth.stderr, /removed ".*oauth_creds_work\.json"/);
    assert.deepEqual(await files(home), []);
    const env = await auth(["--logout", "--account", "env-dashscope"], home, {
      env: { DASHSCOPE_API_KEY: KEY },
    });
    assert.equal(env.code, 1);
    assert.match(
      env.stderr,
      /comes from the environment variable "DASHSCOPE_API_KEY"; unset it instead/,
    );
    assertNoKey(env.stderr);
  });

  it("logs out the preset's account with --provider alone", async () => {
    const home = freshHome();
    await auth(["--provider", "dashscope-us", "--no-verify"], home, { stdin: KEY });
    const r = await auth(["--logout", "--provider", "dashscope-us"], home);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await files(home), []);
    // Nothing left: the key file is what it looked for, not only an OAuth login.
    const again = await auth(["--logout", "--provider", "dashscope-us"], home);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stderr,
      /Not logged in \(account "dashscope-us"\): there is no ".*qwen_key_dashscope-us\.json" nor ".*oauth_creds_dashscope-us\.json" to remove\./,
    );
  });
});

describe("qwen auth --provider with a hidden prompt (in-process)", () => {
  const context = (home: string, env: Record<string, string> = {}) =>
    fakeContext({ home, env, stdinIsTTY: true });
  const options = (account: string) => ({
    force: false,
    account,
    logout: false,
    browser: false,
    provider: "dashscope" as const,
    baseUrl: provider.baseUrl,
    verify: true,
  });

  it("names a custom provider in its prompt as a sentence would", async () => {
    const home = freshHome();
    const { ctx, stderr } = context(home);
    const prompts: string[] = [];
    const code = await runAuth({ ...options("mine"), provider: "custom", verify: false }, ctx, {
      readSecret: (prompt) => {
        prompts.push(prompt);
        return Promise.resolve(KEY);
      },
    });
    assert.equal(code, 0, stderr());
    assert.deepEqual(prompts, ["Paste the OpenAI-compatible API key (input is hidden): "]);
  });

  it("reads the key from the prompt on a terminal, never echoing it", async () => {
    const home = freshHome();
    const { ctx, stderr, stdout } = context(home);
    const prompts: string[] = [];
    const code = await runAuth(options("typed"), ctx, {
      readSecret: (prompt) => {
        prompts.push(prompt);
        return Promise.resolve(`  ${KEY}  `);
      },
    });
    assert.equal(code, 0, stderr());
    assert.equal(prompts.length, 1);
    assert.match(prompts[0], /input is hidden/);
    assert.equal(stdout(), "");
    assertNoKey(stderr());
    assert.equal((await readJson(join(home, "qwen_key_typed.json"))).api_key, KEY);
  });

  it("prefers the variable to the prompt, and refuses an empty answer", async () => {
    const home = freshHome();
    const fromEnv = context(home, { DASHSCOPE_API_KEY: KEY });
    let asked = false;
    const code = await runAuth({ ...options("env"), verify: false }, fromEnv.ctx, {
      readSecret: () => {
        asked = true;
        return Promise.resolve("sk-never000000000");
      },
    });
    assert.equal(code, 0);
    assert.equal(asked, false);
    const empty = context(home);
    await assert.rejects(
      runAuth(options("empty"), empty.ctx, { readSecret: () => Promise.resolve("   ") }),
      (e: Error & { exitCode?: number }) => {
        assert.equal(e.exitCode, 2);
        assert.match(e.message, /No API key was typed/);
        return true;
      },
    );
    assert.deepEqual((await files(home)).sort(), ["qwen_key_env.json"]);
  });
});
