import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { runInProcess } from "../helpers/fake-context.ts";
import { collect, spawnCli } from "../helpers/run-cli.ts";
import { type TempHomes, tempHomes, writeCreds } from "../helpers/temp-homes.ts";
import { waitFor } from "../helpers/wait-for.ts";
import { type FakeQwenOptions, type RunningFakeQwen, startFakeQwen } from "../helpers/fake-qwen.ts";

const OFFICIAL_KEYS = [
  "access_token",
  "refresh_token",
  "token_type",
  "resource_url",
  "expiry_date",
];

let homes: TempHomes;

before(async () => {
  homes = await tempHomes();
});
after(async () => {
  await homes.cleanup();
});

/** A fresh QWEN_HOME per test, below the shared temporary folder (not created yet). */
function freshHome(): string {
  return join(homes.next(), ".qwen");
}

async function withFake<T>(
  options: FakeQwenOptions,
  body: (qwen: RunningFakeQwen) => Promise<T>,
): Promise<T> {
  // A fifth of a second between polls keeps these runs fast; the real schedule
  // (2 s default, +5 s on slow_down) is tested in-process with a fake clock.
  const qwen = await startFakeQwen({ interval: 0.2, ...options });
  try {
    return await body(qwen);
  } finally {
    await qwen.close();
  }
}

/** In process; Ctrl+C below needs a real process and is spawned. */
function auth(args: string[], qwenHome: string, baseUrl = "http://127.0.0.1:9") {
  return runInProcess(["auth", ...args], {
    home: qwenHome,
    env: { QWEN_OAUTH_BASE_URL: baseUrl },
  });
}

async function exists(path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false);
}

describe("qwen auth (device flow)", () => {
  it("writes the official credentials file once approved, stdout empty", async () => {
    await withFake({ polls: ["pending", "approve"] }, async (qwen) => {
      const dir = freshHome();
      const before = Date.now();
      const r = await auth([], dir, qwen.url);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "");
      const file = join(dir, "oauth_creds.json");
      const text = await readFile(file, "utf8");
      const json = JSON.parse(text);
      assert.deepEqual(Object.keys(json), OFFICIAL_KEYS);
      assert.equal(text, JSON.stringify(json, null, 2)); // 2-space indentation, as official
      assert.equal(json.access_token, qwen.fake.issuedAccessTokens[0]);
      assert.ok(qwen.fake.liveRefreshTokens.has(json.refresh_token));
      assert.equal(json.token_type, "Bearer");
      assert.equal(json.resource_url, "portal.qwen.ai");
      // expiry_date in milliseconds: now + 21600 s.
      assert.ok(json.expiry_date >= before + 21_600_000);
      assert.ok(json.expiry_date <= Date.now() + 21_600_000);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
      assert.deepEqual(await readdir(dir), ["oauth_creds.json"]); // no temp file left
      assert.equal(qwen.fake.pollRequests.length, 2);
      // What the person sees, on stderr.
      const userCode = /user_code=([^&]+)/.exec(r.stderr)?.[1] ?? "";
      assert.ok(userCode !== "");
      assert.match(r.stderr, /https:\/\/chat\.qwen\.ai\/authorize\?user_code=\S+&client=qwen-code/);
      assert.ok(r.stderr.includes(`Code: ${userCode}`));
      assert.match(r.stderr, /Browser not opened \(NO_BROWSER is set\)/);
      assert.ok(!r.stderr.includes("Browser opened"));
      assert.ok(r.stderr.includes(`Logged in. Saved the credentials to "${file}"`));
      assert.match(r.stderr, /valid until \d{4}-\d\d-\d\d \d\d:\d\d [+-]\d\d:\d\d \(in 6 h\)/);
      // Not a terminal: no QR, no colour; and never a token.
      assert.ok(!r.stderr.includes("▀") && !r.stderr.includes("\x1b"));
      assert.ok(!r.stderr.includes(json.access_token));
      assert.ok(!r.stderr.includes(json.refresh_token));
    });
  });

  it("draws the QR code with --qr even when stderr is not a terminal, without colour", async () => {
    await withFake({ polls: ["approve"] }, async (qwen) => {
      const r = await auth(["--qr"], freshHome(), qwen.url);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^█{41}$/m); // quiet zone: 33 modules + 8
      assert.ok(!r.stderr.includes("\x1b"));
      assert.equal(r.stdout, "");
    });
  });

  it("exits 1 with its own message and writes nothing when the login is denied", async () => {
    await withFake({ polls: ["deny"] }, async (qwen) => {
      const dir = freshHome();
      const r = await auth(["--no-qr"], dir, qwen.url);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /error: Login refused at "127\.0\.0\.1:\d+": .*denied/);
      assert.equal(await exists(join(dir, "oauth_creds.json")), false);
      assert.equal(qwen.fake.pollRequests.length, 1);
    });
  });

  it("exits 1 with its own message and writes nothing when the code expires", async () => {
    await withFake({ polls: ["expire"] }, async (qwen) => {
      const dir = freshHome();
      const r = await auth([], dir, qwen.url);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /error: Login code expired at "127\.0\.0\.1:\d+"/);
      assert.equal(await exists(join(dir, "oauth_creds.json")), false);
      assert.equal(qwen.fake.pollRequests.length, 1);
    });
  });

  it("gives up when expires_in runs out", async () => {
    await withFake({ polls: ["pending"], expiresIn: 1 }, async (qwen) => {
      const dir = freshHome();
      const r = await auth([], dir, qwen.url);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /error: Login not approved within 1 second: the code has expired/);
      assert.equal(await exists(join(dir, "oauth_creds.json")), false);
    });
  });

  it("names the host when the OAuth server cannot be reached", async () => {
    const r = await auth([], freshHome(), "http://127.0.0.1:9");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: Cannot reach "127\.0\.0\.1:9": /m);
    assert.ok(!r.stderr.includes("    at "), "no stack trace");
  });

  it("uses oauth_creds_<NAME>.json with --account", async () => {
    await withFake({ polls: ["approve"] }, async (qwen) => {
      const dir = freshHome();
      const r = await auth(["--account", "work_2"], dir, qwen.url);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await readdir(dir), ["oauth_creds_work_2.json"]);
      assert.match(r.stderr, /Logged in \(account "work_2"\)/);
    });
  });

  it("cancels on Ctrl+C while polling: exit 130, one line, no file", async () => {
    await withFake({ polls: ["pending"] }, async (qwen) => {
      const dir = freshHome();
      const child = spawnCli(["auth"], {
        env: { QWEN_HOME: dir, QWEN_OAUTH_BASE_URL: qwen.url },
      });
      const result = collect(child, { timeoutMs: 20_000 });
      let seen = "";
      child.stderr!.on("data", (chunk) => (seen += chunk));
      // Wait for the first poll, so the signal lands in the middle of polling.
      await waitFor(
        () =>
          child.exitCode !== null ||
          (seen.includes("Ctrl+C to cancel") && qwen.fake.pollRequests.length >= 1),
        { what: "the first poll", timeoutMs: 20_000, intervalMs: 20 },
      );
      // process.kill, not child.kill: Deno's child_process then reports the signal it sent
      // instead of the exit code the child chose.
      process.kill(child.pid!, "SIGINT");
      const r = await result;
      assert.equal(r.code, 130, r.stderr);
      assert.equal(r.stdout, "");
      const afterWaiting = r.stderr.slice(r.stderr.indexOf("Ctrl+C to cancel)...\n") + 21);
      assert.equal(afterWaiting, "Login cancelled; nothing was written.\n");
      assert.equal(await exists(join(dir, "oauth_creds.json")), false);
    });
  });
});

describe("qwen auth (existing credentials)", () => {
  it("keeps a valid token without any network request", async () => {
    await withFake({}, async (qwen) => {
      const dir = freshHome();
      const content = {
        access_token: "a-valid",
        refresh_token: "r-valid",
        token_type: "Bearer",
        resource_url: "portal.qwen.ai",
        expiry_date: Date.now() + 3_600_000,
      };
      const file = await writeCreds(dir, "oauth_creds.json", content);
      const r = await auth([], dir, qwen.url);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /Already logged in: the token is valid until .* \(in (59 min|1 h)\)/);
      assert.ok(r.stderr.includes(file));
      assert.equal(qwen.fake.requests.length, 0);
      assert.deepEqual(JSON.parse(await readFile(file, "utf8")), content);
    });
  });

  it("treats a token within 30 s of expiry as expired and refreshes it once", async () => {
    await withFake({}, async (qwen) => {
      const dir = freshHome();
      qwen.fake.addRefreshToken("r-old");
      const file = await writeCreds(dir, "oauth_creds.json", {
        access_token: "a-old",
        refresh_token: "r-old",
        token_type: "Bearer",
        resource_url: "portal.qwen.ai",
        expiry_date: Date.now() + 10_000,
        custom_key: { kept: true },
      });
      const r = await auth([], dir, qwen.url);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /Token refreshed: valid until/);
      assert.equal(qwen.fake.refreshRequests.length, 1);
      assert.equal(qwen.fake.pollRequests.length, 0);
      assert.equal(qwen.fake.requests.length, 1);
      const json = JSON.parse(await readFile(file, "utf8"));
      assert.equal(json.access_token, qwen.fake.issuedAccessTokens[0]);
      assert.notEqual(json.refresh_token, "r-old");
      assert.deepEqual(json.custom_key, { kept: true });
      assert.ok(json.expiry_date > Date.now() + 21_000_000);
    });
  });

  it("starts a new login when the refresh token is refused, saying why", async () => {
    await withFake({ polls: ["approve"] }, async (qwen) => {
      const dir = freshHome();
      const file = await writeCreds(dir, "oauth_creds.json", {
        access_token: "a-dead",
        refresh_token: "r-dead", // unknown to the fake: refused with invalid_grant
        token_type: "Bearer",
        expiry_date: Date.now() - 60_000,
        custom_key: 7,
      });
      const r = await auth([], dir, qwen.url);
      assert.equal(r.code, 0, r.stderr);
      const why = r.stderr.split("\n").filter((l) =>
        l.startsWith("Cannot refresh the saved login")
      );
      assert.equal(why.length, 1);
      assert.match(why[0], /Invalid refresh token or client_id.*Starting a new login\.$/);
      assert.equal(qwen.fake.refreshRequests.length, 1);
      assert.equal(qwen.fake.pollRequests.length, 1);
      const json = JSON.parse(await readFile(file, "utf8"));
      assert.equal(json.access_token, qwen.fake.issuedAccessTokens[0]);
      assert.equal(json.custom_key, 7); // unknown keys survive a new login too
    });
  });

  it("exits 1 and keeps the file when the refresh fails for a transient reason", async () => {
    await withFake({}, async (qwen) => {
      const dir = freshHome();
      qwen.fake.addRefreshToken("r-old");
      qwen.fake.override("/api/v1/oauth2/token", {
        status: 503,
        body: "<html>busy</html>",
        contentType: "text/html",
      });
      const content = {
        access_token: "a-old",
        refresh_token: "r-old",
        token_type: "Bearer",
        expiry_date: Date.now() - 60_000,
      };
      const file = await writeCreds(dir, "oauth_creds.json", content);
      const r = await auth([], dir, qwen.url);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /error: Cannot refresh the expired token in ".*": .*HTTP 503/);
      assert.match(r.stderr, /run "qwen auth --force" for a new login/);
      assert.equal(qwen.fake.pollRequests.length, 0);
      assert.deepEqual(JSON.parse(await readFile(file, "utf8")), content);
    });
  });

  it("exits 1 when the credentials path cannot be read", async () => {
    const dir = freshHome();
    await mkdir(join(dir, "oauth_creds.json"), { recursive: true });
    const r = await auth([], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: Cannot read the credentials ".*oauth_creds\.json": /m);
  });

  it("starts a new flow with --force even when the token is valid", async () => {
    await withFake({ polls: ["approve"] }, async (qwen) => {
      const dir = freshHome();
      const file = await writeCreds(dir, "oauth_creds.json", {
        access_token: "a-valid",
        refresh_token: "r-valid",
        token_type: "Bearer",
        expiry_date: Date.now() + 3_600_000,
      });
      const r = await auth(["--force"], dir, qwen.url);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(qwen.fake.pollRequests.length, 1);
      const json = JSON.parse(await readFile(file, "utf8"));
      assert.equal(json.access_token, qwen.fake.issuedAccessTokens[0]);
    });
  });

  it("reports an invalid file and leaves it alone when the new login fails", async () => {
    await withFake({ polls: ["deny"] }, async (qwen) => {
      const dir = freshHome();
      const file = await writeCreds(dir, "oauth_creds.json", '{"access_token": "x"');
      const r = await auth([], dir, qwen.url);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(`The credentials file is invalid: "${file}": not valid JSON`));
      assert.match(r.stderr, /replaced only if it succeeds/);
      assert.equal(await readFile(file, "utf8"), '{"access_token": "x"');
    });
  });

  it("replaces a file with missing fields after a successful login", async () => {
    await withFake({ polls: ["approve"] }, async (qwen) => {
      const dir = freshHome();
      const file = await writeCreds(dir, "oauth_creds.json", { access_token: "x", extra: "y" });
      const r = await auth([], dir, qwen.url);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /missing "refresh_token", "token_type", "expiry_date"/);
      const json = JSON.parse(await readFile(file, "utf8"));
      assert.deepEqual(Object.keys(json), [
        ...OFFICIAL_KEYS.slice(0, 1),
        "extra",
        ...OFFICIAL_KEYS.slice(1),
      ]);
      assert.equal(json.extra, "y");
    });
  });
});

describe("qwen auth --logout", () => {
  it("removes that one file and nothing else", async () => {
    const dir = freshHome();
    const official = await writeCreds(dir, "oauth_creds.json", { access_token: "a" });
    const named = await writeCreds(dir, "oauth_creds_work.json", { access_token: "b" });
    await writeCreds(dir, "settings.json", "{}");
    const r = await auth(["--logout", "--account", "work"], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.ok(r.stderr.includes(`Logged out (account "work"): removed "${named}".`));
    assert.deepEqual((await readdir(dir)).sort(), ["oauth_creds.json", "settings.json"]);
    const again = await auth(["--logout"], dir);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await exists(official), false);
    assert.deepEqual(await readdir(dir), ["settings.json"]);
  });

  it("exits 0 and says so when there is nothing to remove", async () => {
    const dir = freshHome();
    const r = await auth(["--logout"], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Not logged in: there is no ".*oauth_creds\.json" to remove\./);
  });

  it("refuses flags that make no sense with it", async () => {
    const r = await auth(["--logout", "--force"], freshHome());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Flag "--force" cannot be combined with "--logout"/);
  });
});

describe("qwen auth (usage)", () => {
  it("rejects a bad account name with exit 2 before any request", async () => {
    for (const name of ["../evil", "a/b", "", "x".repeat(65)]) {
      const r = await auth(["--account", name], freshHome());
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^error: Invalid account name /);
    }
  });

  it("names an unknown flag and exits 2", async () => {
    const r = await auth(["--frobnicate"], freshHome());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Unknown flag "--frobnicate" for "qwen auth"/);
  });

  it("prints its help to stdout", async () => {
    const r = await auth(["--help"], freshHome());
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /Usage:\n {2}qwen auth \[--force\]/);
    assert.match(r.stdout, /--no-browser/);
  });
});
