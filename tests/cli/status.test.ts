import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type RunningFakeQwen, startFakeQwen } from "../helpers/fake-qwen.ts";
import { runInProcess } from "../helpers/fake-context.ts";
import { collect, spawnCli, tempHome } from "../helpers/run-cli.ts";
import { writeCreds } from "../helpers/temp-homes.ts";

const HOUR = 3_600_000;

function creds(overrides: Record<string, unknown> = {}) {
  return {
    access_token: "access-secret-value",
    refresh_token: "refresh-secret-value",
    token_type: "Bearer",
    resource_url: "portal.qwen.ai",
    expiry_date: Date.now() + HOUR,
    ...overrides,
  };
}

interface JsonAccount {
  name: string;
  type: string;
  file: string;
  state: string;
  expiry_date: number | null;
  expires_at: string | null;
  expires_in_s: number | null;
  resource_url: string | null;
  base_url: string | null;
  error: string | null;
}

describe("qwen status", () => {
  const homes: (() => Promise<void>)[] = [];
  let qwen: RunningFakeQwen;
  /** Slow to refresh, so that of two processes refreshing at once one finds the other's lock. */
  let slow: RunningFakeQwen;

  async function home(): Promise<string> {
    const h = await tempHome();
    homes.push(h.cleanup);
    return h.home;
  }
  // In process; the two processes racing for a refresh below are spawned.
  const status = (qwenHome: string, args: string[] = []) =>
    runInProcess(["status", ...args], {
      home: qwenHome,
      env: { QWEN_OAUTH_BASE_URL: qwen.url },
    });

  before(async () => {
    qwen = await startFakeQwen();
    slow = await startFakeQwen({ refreshDelayMs: 1_500 });
  });
  after(async () => {
    await qwen.close();
    await slow.close();
    for (const cleanup of homes) await cleanup();
  });

  it("prints one JSON object on an empty home and exits 3", async () => {
    const h = await home();
    const r = await status(h, ["--json"]);
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { version: 1, home: h, usable: false, accounts: [] });
  });

  it("treats a home directory that does not exist as no credentials (exit 3)", async () => {
    const h = join(await home(), "absent");
    const r = await status(h, ["--json"]);
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).accounts, []);
    const text = await status(h);
    assert.equal(text.code, 3);
    assert.match(text.stdout, /No Qwen credentials found: run "qwen auth"/);
  });

  it("exits 0 with a valid account and never prints a token", async () => {
    const h = await home();
    const expiry = Date.now() + HOUR;
    const file = await writeCreds(h, "oauth_creds.json", creds({ expiry_date: expiry }));
    const r = await status(h, ["--json"]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.usable, true);
    const [a] = report.accounts as JsonAccount[];
    assert.deepEqual(Object.keys(a).sort(), [
      "base_url",
      "cooldown_until",
      "env",
      "error",
      "expires_at",
      "expires_in_s",
      "expiry_date",
      "file",
      "key_fingerprint",
      "name",
      "probe",
      "provider",
      "resource_url",
      "retry_at",
      "state",
      "type",
      "usage_today",
    ]);
    assert.equal(a.name, "default");
    assert.equal(a.type, "oauth");
    assert.equal(a.file, file);
    assert.equal(a.state, "valid");
    assert.equal(a.expiry_date, expiry);
    assert.equal(a.expires_at, new Date(expiry).toISOString());
    assert.ok(a.expires_in_s! > 3500 && a.expires_in_s! <= 3600);
    assert.equal(a.resource_url, "portal.qwen.ai");
    assert.equal(a.base_url, "https://portal.qwen.ai/v1");
    assert.equal(a.error, null);

    const text = await status(h);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /Account "default" \(oauth\): valid/);
    assert.match(text.stdout, /API base: +https:\/\/portal\.qwen\.ai\/v1/);
    assert.match(
      text.stdout,
      /Expires: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d \(in \d+ (min|h)/,
    );
    assert.match(text.stdout, /Usable: yes/);
    for (const out of [r.stdout, r.stderr, text.stdout, text.stderr]) {
      assert.ok(!out.includes("secret-value"), "no token in the output");
    }
  });

  it("exits 4 when the only account is expired, offline", async () => {
    const h = await home();
    await writeCreds(h, "oauth_creds.json", creds({ expiry_date: Date.now() - HOUR }));
    const before = qwen.fake.requests.length;
    const r = await status(h, ["--json"]);
    assert.equal(r.code, 4, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.usable, false);
    assert.equal(report.accounts[0].state, "expired");
    assert.ok(report.accounts[0].expires_in_s < 0);
    assert.equal(qwen.fake.requests.length, before, "no network without --refresh");
    const text = await status(h);
    assert.equal(text.code, 4);
    assert.match(text.stdout, /expired \(refreshable\)[\s\S]*ago\)/);
    assert.match(text.stdout, /qwen status --refresh/);
  });

  it("counts a token inside the 30 s margin as expired", async () => {
    const h = await home();
    await writeCreds(h, "oauth_creds.json", creds({ expiry_date: Date.now() + 10_000 }));
    const r = await status(h, ["--json"]);
    assert.equal(r.code, 4, r.stderr);
  });

  it("exits 1 for an invalid file and names the missing fields", async () => {
    const h = await home();
    const content = JSON.stringify({ access_token: "x", expiry_date: Date.now() + HOUR });
    const file = await writeCreds(h, "oauth_creds.json", content);
    const r = await status(h, ["--json"]);
    assert.equal(r.code, 1, r.stderr);
    const [a] = JSON.parse(r.stdout).accounts as JsonAccount[];
    assert.equal(a.state, "invalid");
    assert.match(a.error!, /missing "refresh_token", "token_type"/);
    assert.equal(a.expiry_date, null);
    assert.equal(a.base_url, null);
    const text = await status(h);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /invalid[\s\S]*Problem: +missing "refresh_token", "token_type"/);
    assert.equal(await readFile(file, "utf8"), content, "never rewritten");
  });

  it("exits 1 for a corrupted file", async () => {
    const h = await home();
    await writeCreds(h, "oauth_creds.json", "{not json");
    const r = await status(h, ["--json"]);
    assert.equal(r.code, 1);
    assert.match(JSON.parse(r.stdout).accounts[0].error, /not valid JSON/);
  });

  it("says where a corrupted file breaks without quoting its token", async () => {
    const h = await home();
    // Unquoted, the token is what both runtimes' JSON parsers would quote back.
    await writeCreds(
      h,
      "oauth_creds.json",
      '{\n  "access_token": SECRETtoken0123456789,\n  "refresh_token": "SECRETrefresh"\n}',
    );
    const json = await status(h, ["--json"]);
    assert.equal(json.code, 1);
    assert.equal(
      JSON.parse(json.stdout).accounts[0].error,
      "not valid JSON (unexpected character at line 2, column 19)",
    );
    const text = await status(h);
    assert.equal(text.code, 1);
    assert.match(
      text.stdout,
      /Problem: +not valid JSON \(unexpected character at line 2, column 19\)/,
    );
    for (const r of [json, text]) assert.ok(!/SECRET/.test(r.stdout + r.stderr), r.stdout);
  });

  it("lists every account, default first, and exits 0 when one is valid", async () => {
    const h = await home();
    await writeCreds(h, "oauth_creds_zeta.json", creds({ expiry_date: Date.now() - HOUR }));
    await writeCreds(h, "oauth_creds_alpha.json", "");
    await writeCreds(h, "oauth_creds.json", creds());
    await writeCreds(h, "oauth_creds_bad name.json", creds());
    await writeCreds(h, "settings.json", "{}");
    // Not the default account (that is oauth_creds.json): ignored rather than shown twice.
    await writeCreds(h, "oauth_creds_default.json", creds());
    const r = await status(h, ["--json"]);
    assert.equal(r.code, 0, r.stderr);
    const accounts = JSON.parse(r.stdout).accounts as JsonAccount[];
    assert.deepEqual(accounts.map((a) => [a.name, a.state]), [
      ["default", "valid"],
      ["alpha", "invalid"],
      ["zeta", "expired"],
    ]);
  });

  it("says when qwen serve tries a rejected account again (retry_at)", async () => {
    const h = await home();
    await writeCreds(h, "oauth_creds.json", creds());
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const rejected = (extra: Record<string, unknown>) =>
      writeFile(
        join(h, "qwen_state.json"),
        JSON.stringify({
          version: 1,
          accounts: {
            default: {
              health: {
                state: "rejected",
                reason: "invalid_credentials",
                message: "invalid access token or token expired",
                changed_at: iso(now - 30_000),
                ...extra,
              },
              usage: {},
            },
          },
        }),
      );
    const at = (args: string[]) =>
      runInProcess(["status", ...args], {
        home: h,
        now: () => now,
        env: { QWEN_OAUTH_BASE_URL: qwen.url },
      });

    await rejected({ retry_at: iso(now + 90_000), strikes: 2 });
    const json = await at(["--json"]);
    assert.equal(json.code, 3, json.stderr);
    const [a] = JSON.parse(json.stdout).accounts;
    assert.equal(a.state, "rejected");
    assert.equal(a.retry_at, iso(now + 90_000));
    assert.equal(a.cooldown_until, null);
    assert.match(
      (await at([])).stdout,
      /\n {2}Next try: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d \(in 1 min\): "qwen serve" then sends it one request\n/,
    );

    await rejected({ retry_at: iso(now - 120_000) });
    assert.match(
      (await at([])).stdout,
      /\n {2}Next try: +with the next request to "qwen serve" \(due 2 min ago\)\n/,
    );

    // Written before there were tries: 30 s after the rejection.
    await rejected({});
    assert.equal(JSON.parse((await at(["--json"])).stdout).accounts[0].retry_at, iso(now));
  });

  it("ranks expired (4) above invalid (1)", async () => {
    const h = await home();
    await writeCreds(h, "oauth_creds.json", "[]");
    await writeCreds(h, "oauth_creds_w.json", creds({ expiry_date: Date.now() - HOUR }));
    assert.equal((await status(h)).code, 4);
  });

  it("shows one account with --account, and exits 3 when it has no file", async () => {
    const h = await home();
    await writeCreds(h, "oauth_creds.json", creds());
    await writeCreds(h, "oauth_creds_work.json", creds({ expiry_date: Date.now() - HOUR }));
    const r = await status(h, ["--json", "--account", "work"]);
    assert.equal(r.code, 4, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout).accounts as JsonAccount[]).map((a) => a.name), [
      "work",
    ]);
    const none = await status(h, ["--json", "--account", "other"]);
    assert.equal(none.code, 3);
    assert.deepEqual(JSON.parse(none.stdout).accounts, []);
    assert.match(none.stderr, /qwen auth --account other/);
  });

  it("exits 2 on an unknown flag or a bad account name", async () => {
    const h = await home();
    const r = await status(h, ["--frob"]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /Unknown flag "--frob"/);
    const bad = await status(h, ["--account", "../x"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Invalid account name "\.\.\/x"/);
  });

  it("prints its help to stdout", async () => {
    const r = await status(await home(), ["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: qwen status/);
    assert.match(r.stdout, /--refresh/);
  });

  it("--refresh refreshes an expired account and exits 0", async () => {
    const h = await home();
    const old = creds({ expiry_date: Date.now() - HOUR, refresh_token: "refresh-cli-1" });
    const file = await writeCreds(h, "oauth_creds.json", old);
    qwen.fake.addRefreshToken("refresh-cli-1");
    const before = qwen.fake.refreshRequests.length;
    const r = await status(h, ["--json", "--refresh"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(qwen.fake.refreshRequests.length - before, 1);
    const [a] = JSON.parse(r.stdout).accounts as JsonAccount[];
    assert.equal(a.state, "valid");
    const saved = JSON.parse(await readFile(file, "utf8"));
    assert.notEqual(saved.access_token, old.access_token);
    assert.notEqual(saved.refresh_token, old.refresh_token);
    assert.ok(!r.stdout.includes(saved.access_token) && !r.stderr.includes(saved.access_token));
  });

  it("--refresh reports needs_login when the refresh is refused and exits 3", async () => {
    const h = await home();
    const content = JSON.stringify(
      creds({ expiry_date: Date.now() - HOUR, refresh_token: "refresh-dead" }),
      null,
      2,
    );
    const file = await writeCreds(h, "oauth_creds_work.json", content);
    const r = await status(h, ["--json", "--refresh"]);
    assert.equal(r.code, 3, r.stderr);
    const [a] = JSON.parse(r.stdout).accounts as JsonAccount[];
    assert.equal(a.state, "needs_login");
    assert.match(a.error!, /qwen auth --account work/);
    assert.match(r.stderr, /qwen auth --account work/);
    assert.equal(await readFile(file, "utf8"), content, "the file is kept as it was");
    assert.deepEqual(await readdir(h), ["oauth_creds_work.json"], "no lock left behind");
  });

  it("two --refresh processes at once send exactly one refresh request", async () => {
    const h = await home();
    await writeCreds(
      h,
      "oauth_creds.json",
      creds({ expiry_date: Date.now() - HOUR, refresh_token: "refresh-race" }),
    );
    slow.fake.addRefreshToken("refresh-race");
    const before = slow.fake.refreshRequests.length;
    const env = { QWEN_HOME: h, QWEN_OAUTH_BASE_URL: slow.url };
    const [a, b] = await Promise.all([
      collect(spawnCli(["status", "--refresh", "--json"], { env })),
      collect(spawnCli(["status", "--refresh", "--json"], { env })),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(slow.fake.refreshRequests.length - before, 1);
    assert.equal(JSON.parse(a.stdout).accounts[0].state, "valid");
    assert.equal(JSON.parse(b.stdout).accounts[0].state, "valid");
    assert.match(a.stderr + b.stderr, /already refreshed by another process/);
    assert.deepEqual(await readdir(h), ["oauth_creds.json"]);
  });
});
