import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  apiKeyPath,
  listApiKeyFiles,
  readApiKeyFile,
  removeApiKeyFile,
  writeApiKeyFile,
} from "../../src/accounts/api-key-store.ts";
import { StoredKeyTokenSource } from "../../src/accounts/api-key-source.ts";
import { listAccounts, reservedNameProblem, selectAccounts } from "../../src/accounts/account.ts";
import { authHeaders } from "../../src/upstream/headers.ts";
import { tempHome } from "../helpers/run-cli.ts";
import { keyFileJson, type TempHomes, tempHomes } from "../helpers/temp-homes.ts";

const KEY = "sk-0123456789abcdef9f2c";
const OFFLINE = {
  oauthBaseUrl: "http://127.0.0.1:9",
  fetch: () => Promise.reject(new Error("offline")),
};

const keyFile = (overrides: Record<string, unknown> = {}) =>
  keyFileJson({ api_key: KEY, ...overrides });

describe("API key files", () => {
  let homes: TempHomes;
  const fresh = () => homes.fresh();
  before(async () => {
    homes = await tempHomes();
  });
  after(async () => {
    await homes.cleanup();
  });

  it("writes qwen_key_<NAME>.json with mode 0600 in the documented format", async () => {
    const home = join(await fresh(), "new-home");
    const path = apiKeyPath(home, "work");
    assert.equal(path, join(home, "qwen_key_work.json"));
    await writeApiKeyFile(path, keyFile());
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(home)).mode & 0o777, 0o700);
    const json = JSON.parse(await readFile(path, "utf8"));
    assert.deepEqual(Object.keys(json), [
      "version",
      "type",
      "provider",
      "base_url",
      "api_key",
      "created_at",
    ]);
    const read = await readApiKeyFile(path);
    assert.equal(read.kind, "ok");
    if (read.kind === "ok") assert.equal(read.file.api_key, KEY);
  });

  it("refuses account names that are not plain", () => {
    assert.throws(() => apiKeyPath("/tmp", "../x"), /Invalid account name "..\/x"/);
  });

  it("reports a corrupt or wrong file without its key and never rewrites it", async () => {
    const home = await fresh();
    const cases: [unknown, RegExp][] = [
      ["", /empty/],
      [`{"api_key": "${KEY}"`, /^not valid JSON$/],
      [[1], /expected a JSON object/],
      [keyFile({ version: 2 }), /unsupported "version" 2/],
      [keyFile({ api_key: undefined }), /missing "api_key"/],
      [keyFile({ api_key: `${KEY} x` }), /wrong "api_key"/],
      [keyFile({ provider: "nope" }), /wrong "provider"/],
      [keyFile({ base_url: "file:///etc" }), /wrong "base_url"/],
    ];
    for (const [content, problem] of cases) {
      const path = join(home, "qwen_key_bad.json");
      const text = typeof content === "string" ? content : JSON.stringify(content);
      await writeFile(path, text, { mode: 0o600 });
      const read = await readApiKeyFile(path);
      assert.equal(read.kind, "invalid", text);
      if (read.kind === "invalid") {
        assert.match(read.problem, problem);
        assert.ok(!read.problem.includes("0123456789"), "no key in the problem");
      }
      assert.equal(await readFile(path, "utf8"), text, "never rewritten");
    }
  });

  it("reads a key file readable by others, leaving its mode", async () => {
    const home = await fresh();
    const path = join(home, "qwen_key_loose.json");
    await writeFile(path, JSON.stringify(keyFile()));
    await chmod(path, 0o644);
    assert.equal((await readApiKeyFile(path)).kind, "ok");
    assert.equal((await stat(path)).mode & 0o777, 0o644);
  });

  it("lists key files by name and removes them", async () => {
    const home = await fresh();
    await writeApiKeyFile(apiKeyPath(home, "b"), keyFile());
    await writeApiKeyFile(apiKeyPath(home, "a"), keyFile());
    await writeFile(join(home, "qwen_key_.json"), "{}");
    await writeFile(join(home, "qwen_key_a.json.bak"), "{}");
    assert.deepEqual((await listApiKeyFiles(home)).map((f) => f.name), ["a", "b"]);
    assert.equal(await removeApiKeyFile(apiKeyPath(home, "a")), true);
    assert.equal(await removeApiKeyFile(apiKeyPath(home, "a")), false);
    assert.deepEqual(await listApiKeyFiles(join(home, "absent")), []);
  });
});

describe("the account listing", () => {
  let home: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ home, cleanup } = await tempHome());
    const oauth = JSON.stringify({
      access_token: "a",
      refresh_token: "r",
      token_type: "Bearer",
      expiry_date: Date.now() + 3_600_000,
    });
    await writeFile(join(home, "oauth_creds.json"), oauth, { mode: 0o600 });
    await writeFile(join(home, "oauth_creds_work.json"), oauth, { mode: 0o600 });
    await writeApiKeyFile(apiKeyPath(home, "dashscope"), keyFile());
    await writeApiKeyFile(
      apiKeyPath(home, "coding"),
      keyFile({ provider: "coding-plan", api_key: "sk-sp-0123456789abcd" }),
    );
    await writeFile(join(home, "qwen_key_broken.json"), "{", { mode: 0o600 });
  });
  after(async () => {
    await cleanup();
  });

  it("lists OAuth files, key files and environment keys under their names", async () => {
    const entries = await listAccounts(home, {
      DASHSCOPE_API_KEY: "sk-fromenv000001",
      OPENROUTER_API_KEY: "sk-or-v1-fromenv02",
    }, OFFLINE);
    assert.deepEqual(entries.map((e) => [e.name, e.type, e.origin]), [
      ["default", "oauth", "file"],
      ["work", "oauth", "file"],
      ["broken", "api_key", "file"],
      ["coding", "api_key", "file"],
      ["dashscope", "api_key", "file"],
      ["env-dashscope", "api_key", "env"],
      ["env-openrouter", "api_key", "env"],
    ]);
  });

  it("opens every account as a TokenSource with provider metadata", async () => {
    const accounts = await listAccounts(
      home,
      { DASHSCOPE_API_KEY: "sk-fromenv000001", DASHSCOPE_BASE_URL: "http://127.0.0.1:7/v1" },
      OFFLINE,
    );
    const byName = Object.fromEntries(accounts.map((a) => [a.name, a]));
    assert.equal(byName.default.provider, "qwen-oauth");
    assert.equal(byName.default.type, "oauth");
    assert.deepEqual(byName.default.modelMap, {});
    assert.equal(byName.coding.provider, "coding-plan");
    assert.equal(byName.coding.modelMap["coder-model"], "qwen3-coder-plus");
    assert.deepEqual(await byName.dashscope.source.getToken(), {
      token: KEY,
      baseUrl: "http://127.0.0.1:9/v1",
      kind: "api_key",
    });
    const env = byName["env-dashscope"];
    assert.equal(env.origin, "env");
    assert.equal(env.envVar, "DASHSCOPE_API_KEY");
    assert.equal(env.file, null);
    assert.deepEqual(await env.source.getToken(), {
      token: "sk-fromenv000001",
      baseUrl: "http://127.0.0.1:7/v1",
      kind: "api_key",
    });
    assert.equal((await byName.broken.source.state()).state, "invalid");
    await assert.rejects(byName.broken.source.getToken(), /Cannot use the API key file/);
    const some = selectAccounts(await listAccounts(home, {}, OFFLINE), ["work", "nobody"]);
    assert.deepEqual(selectAccounts(accounts, []).unknown, []);
    assert.deepEqual(some.accounts.map((a) => a.name), ["work"]);
    assert.deepEqual(some.unknown, ["nobody"]);
  });

  it("picks up a changed key file without a restart", async () => {
    const path = apiKeyPath(home, "rotating");
    await writeApiKeyFile(path, keyFile());
    const source = new StoredKeyTokenSource("rotating", path, { statIntervalMs: 0 });
    const before = await source.state();
    assert.equal(before.keyFingerprint, "sk-…9f2c");
    await writeApiKeyFile(path, keyFile({ api_key: "sk-abcdefabcdef7777" }));
    assert.equal((await source.getToken()).token, "sk-abcdefabcdef7777");
    const after = await source.state();
    assert.equal(after.keyFingerprint, "sk-…7777");
    assert.notEqual(after.identity, before.identity);
  });

  it("adds X-DashScope-CacheControl for keys on Alibaba hosts only", () => {
    const alibaba = authHeaders(
      {
        token: "k",
        baseUrl: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        kind: "api_key",
      },
      "qwen/test",
      null,
    );
    assert.equal(alibaba["x-dashscope-cachecontrol"], "enable");
    const elsewhere = authHeaders(
      { token: "k", baseUrl: "https://openrouter.ai/api/v1", kind: "api_key" },
      "qwen/test",
      null,
    );
    assert.equal(elsewhere["x-dashscope-cachecontrol"], undefined);
  });

  it("keeps default and env- names for OAuth and environment accounts", () => {
    assert.match(reservedNameProblem("env-x", "api_key")!, /environment variables/);
    assert.match(reservedNameProblem("env-x", "oauth")!, /environment variables/);
    assert.match(reservedNameProblem("default", "api_key")!, /oauth_creds\.json/);
    assert.equal(reservedNameProblem("default", "oauth"), undefined);
    assert.equal(reservedNameProblem("work", "api_key"), undefined);
  });
});
