import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { acquireLock, releaseLock } from "../../src/credentials/lock.ts";
import { lockPathFor } from "../../src/credentials/paths.ts";
import type { OAuthCredentials } from "../../src/credentials/store.ts";
import { OAuthTokenSource } from "../../src/credentials/token-source.ts";
import { type RunningFakeQwen, startFakeQwen } from "../helpers/fake-qwen.ts";
import { tempHome } from "../helpers/run-cli.ts";

const HOUR = 3_600_000;
const TOKEN_PATH = "/api/v1/oauth2/token";
const fastSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 5)));

describe("OAuthTokenSource", () => {
  let home: string;
  let cleanup: () => Promise<void>;
  let qwen: RunningFakeQwen;
  let n = 0;

  before(async () => {
    ({ home, cleanup } = await tempHome());
    qwen = await startFakeQwen();
  });
  after(async () => {
    await qwen.close();
    await cleanup();
  });

  /** Writes a credentials file in a fresh directory; its refresh token is live on the fake. */
  async function setup(
    overrides: Partial<OAuthCredentials> & Record<string, unknown> = {},
    options: Partial<ConstructorParameters<typeof OAuthTokenSource>[0]> = {},
  ) {
    const dir = join(home, `case-${++n}`);
    await mkdir(dir);
    const path = join(
      dir,
      options.account && options.account !== "default"
        ? `oauth_creds_${options.account}.json`
        : "oauth_creds.json",
    );
    const credentials = {
      access_token: `access-old-${n}`,
      refresh_token: `refresh-old-${n}`,
      token_type: "Bearer",
      resource_url: "portal.qwen.ai",
      expiry_date: Date.now() - 1_000,
      ...overrides,
    };
    const text = JSON.stringify(credentials, null, 2);
    await writeFile(path, text, { mode: 0o600 });
    qwen.fake.addRefreshToken(credentials.refresh_token);
    const source = new OAuthTokenSource({
      path,
      account: "default",
      oauthBaseUrl: qwen.url,
      fetch: (input, init) => fetch(input, init),
      sleep: fastSleep,
      ...options,
    });
    const refreshesBefore = qwen.fake.refreshRequests.length;
    const refreshes = () => qwen.fake.refreshRequests.length - refreshesBefore;
    return { dir, path, text, credentials, source, refreshes };
  }

  async function readJson(path: string): Promise<Record<string, unknown>> {
    return JSON.parse(await readFile(path, "utf8"));
  }

  it("hands out a valid token without any request", async () => {
    const { source, refreshes, credentials } = await setup({ expiry_date: Date.now() + HOUR });
    const auth = await source.getToken();
    assert.deepEqual(auth, {
      token: credentials.access_token,
      baseUrl: "https://portal.qwen.ai/v1",
      kind: "oauth",
      // Not sent anywhere: blanked out of upstream answers that would quote it.
      otherSecrets: [credentials.refresh_token],
    });
    assert.equal(refreshes(), 0);
    assert.equal((await source.state()).state, "valid");
  });

  it("refreshes an expired token, rotates the refresh token and writes the file", async () => {
    const { source, refreshes, path, dir, credentials } = await setup({ id_token: "kept" });
    assert.equal((await source.state()).state, "expired");
    const before = Date.now();
    const auth = await source.getToken();
    assert.equal(refreshes(), 1);
    assert.notEqual(auth.token, credentials.access_token);
    assert.equal(auth.baseUrl, "https://portal.qwen.ai/v1");
    const saved = await readJson(path);
    assert.equal(saved.access_token, auth.token);
    assert.notEqual(saved.refresh_token, credentials.refresh_token);
    assert.equal(saved.id_token, "kept", "unknown keys are kept");
    assert.equal(saved.token_type, "Bearer");
    const expiry = saved.expiry_date as number;
    assert.ok(expiry >= before + 21_600_000 && expiry <= Date.now() + 21_600_000);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ["oauth_creds.json"], "no temp or lock file left");
    assert.equal((await source.state()).state, "valid");
    // The new token is cached: no further request.
    assert.equal((await source.getToken()).token, auth.token);
    assert.equal(refreshes(), 1);
  });

  it("sends exactly one refresh for 50 concurrent calls on an expired token", async () => {
    const { source, refreshes } = await setup();
    const auths = await Promise.all(Array.from({ length: 50 }, () => source.getToken()));
    assert.equal(refreshes(), 1);
    assert.equal(new Set(auths.map((a) => a.token)).size, 1);
  });

  it("keeps refresh_token and resource_url when the answer leaves them out", async () => {
    const { source, path, credentials } = await setup({
      resource_url: "http://127.0.0.1:4242",
    });
    qwen.fake.override(TOKEN_PATH, {
      status: 200,
      body: JSON.stringify({ access_token: "access-bare", token_type: "Bearer", expires_in: 60 }),
    });
    const auth = await source.getToken();
    assert.equal(auth.token, "access-bare");
    assert.equal(auth.baseUrl, "http://127.0.0.1:4242/v1");
    const saved = await readJson(path);
    assert.equal(saved.refresh_token, credentials.refresh_token);
    assert.equal(saved.resource_url, "http://127.0.0.1:4242");
  });

  it("takes a new resource_url from the answer", async () => {
    const { source, path } = await setup({ resource_url: "old.example" });
    const auth = await source.getToken();
    assert.equal(auth.baseUrl, "https://portal.qwen.ai/v1");
    assert.equal((await readJson(path)).resource_url, "portal.qwen.ai");
  });

  it("marks a refused refresh as needs_login and leaves the file untouched", async () => {
    const { source, path, text, refreshes, credentials } = await setup({}, { account: "work" });
    qwen.fake.liveRefreshTokens.delete(credentials.refresh_token); // Rotated away elsewhere.
    await assert.rejects(source.getToken(), (error: Error & Record<string, unknown>) => {
      assert.equal(error.code, "needs_login");
      assert.equal(error.exitCode, 3);
      assert.equal(error.status, 401);
      assert.match(error.message, /run "qwen auth --account work"/);
      assert.ok(!error.message.includes(credentials.refresh_token), "no secret in the message");
      return true;
    });
    assert.equal(refreshes(), 1);
    assert.equal(await readFile(path, "utf8"), text);
    const state = await source.state();
    assert.equal(state.state, "needs_login");
    assert.match(state.problem ?? "", /Invalid refresh token/);
    // Remembered: no second request with a dead token.
    await assert.rejects(source.getToken(), { code: "needs_login" });
    await assert.rejects(source.refresh(), { code: "needs_login" });
    assert.equal(refreshes(), 1);
    assert.equal(await readFile(path, "utf8"), text);
  });

  it("never quotes a token of the login from the OAuth server's answer", async () => {
    for (const status of [400, 500]) {
      const { source, credentials } = await setup();
      const { refresh_token: refresh, access_token: access } = credentials;
      qwen.fake.override(TOKEN_PATH, {
        status,
        body: JSON.stringify({
          error: "invalid_grant",
          error_description: `Refresh token ${refresh} of ${access} is not valid`,
        }),
      });
      await assert.rejects(source.getToken(), (error: Error) => {
        assert.match(error.message, /\[redacted\] of \[redacted\] is not valid/);
        assert.ok(
          !error.message.includes(refresh) && !error.message.includes(access),
          error.message,
        );
        return true;
      });
      const { problem = "" } = await source.state();
      assert.ok(!problem.includes(refresh) && !problem.includes(access), problem);
    }
  });

  it('says plain "qwen auth" for the default account', async () => {
    const { source, credentials } = await setup();
    qwen.fake.liveRefreshTokens.delete(credentials.refresh_token);
    await assert.rejects(source.getToken(), (error: Error) => {
      assert.match(error.message, /run "qwen auth" to log in again/);
      return true;
    });
  });

  it("clears needs_login when a new login rewrites the file", async () => {
    const { source, path, credentials } = await setup({}, { statIntervalMs: 0 });
    qwen.fake.liveRefreshTokens.delete(credentials.refresh_token);
    await assert.rejects(source.getToken(), { code: "needs_login" });
    const relogin = {
      ...credentials,
      access_token: "access-relogin",
      expiry_date: Date.now() + HOUR,
    };
    await writeFile(path, JSON.stringify(relogin, null, 2));
    assert.equal((await source.state()).state, "valid");
    assert.equal((await source.getToken()).token, "access-relogin");
  });

  const transient: [string, { status: number; body: string; contentType?: string }][] = [
    ["a 503", { status: 503, body: '{"error":"server_error"}' }],
    ["an HTML 502", { status: 502, body: "<html>bad gateway</html>", contentType: "text/html" }],
    ["an HTML 200 from a WAF", { status: 200, body: "<html>x</html>", contentType: "text/html" }],
    ["an empty 200", { status: 200, body: "" }],
  ];
  for (const [what, response] of transient) {
    it(`keeps the file after ${what} and retries on the next call`, async () => {
      const { source, path, text, refreshes } = await setup();
      qwen.fake.override(TOKEN_PATH, response);
      await assert.rejects(source.getToken(), (error: Error & Record<string, unknown>) => {
        assert.equal(error.status, 502);
        assert.equal(error.exitCode, 1);
        assert.equal(error.code, "refresh_failed");
        assert.match(error.message, /^Cannot refresh the Qwen token/);
        return true;
      });
      assert.equal(await readFile(path, "utf8"), text);
      assert.equal((await source.state()).state, "expired");
      const auth = await source.getToken();
      assert.equal(refreshes(), 2);
      assert.equal((await readJson(path)).access_token, auth.token);
    });
  }

  it("reports an unreachable OAuth host as a transient failure", async () => {
    const { source, path, text } = await setup({}, {
      fetch: () => Promise.reject(new TypeError("connection refused")),
    });
    await assert.rejects(source.getToken(), { code: "refresh_failed", status: 502 });
    assert.equal(await readFile(path, "utf8"), text);
  });

  it("picks up a file changed by another program (mtime)", async () => {
    const { source, path, credentials } = await setup(
      { expiry_date: Date.now() + HOUR },
      { statIntervalMs: 0 },
    );
    assert.equal((await source.getToken()).token, credentials.access_token);
    await writeFile(
      path,
      JSON.stringify({ ...credentials, access_token: "access-from-elsewhere" }, null, 2),
    );
    assert.equal((await source.getToken()).token, "access-from-elsewhere");
  });

  it("stats the file at most once per interval on the hot path", async () => {
    const { source, path, credentials } = await setup(
      { expiry_date: Date.now() + HOUR },
      { statIntervalMs: 60_000 },
    );
    assert.equal((await source.getToken()).token, credentials.access_token);
    await writeFile(path, JSON.stringify({ ...credentials, access_token: "later" }, null, 2));
    assert.equal((await source.getToken()).token, credentials.access_token, "cached");
  });

  it("uses another process's refresh found after taking the lock instead of refreshing", async () => {
    const { source, path, credentials, refreshes } = await setup();
    const other = await acquireLock(lockPathFor(path));
    const pending = source.getToken();
    // The other process refreshes while holding the lock, then releases it.
    await new Promise((r) => setTimeout(r, 30));
    await writeFile(
      path,
      JSON.stringify(
        {
          ...credentials,
          access_token: "access-other",
          refresh_token: "refresh-other",
          expiry_date: Date.now() + HOUR,
        },
        null,
        2,
      ),
    );
    await releaseLock(other);
    const auth = await pending;
    assert.equal(auth.token, "access-other");
    assert.equal(refreshes(), 0);
  });

  /** Dates the credentials file back, as if its token had been issued `ms` ago. */
  async function issuedAgo(path: string, ms: number): Promise<void> {
    const then = new Date(Date.now() - ms);
    await utimes(path, then, then);
  }

  it("refreshes ahead of expiry with refreshAheadMs", async () => {
    const { source, path, refreshes, credentials } = await setup(
      { expiry_date: Date.now() + 2 * 60_000 },
      { refreshAheadMs: 5 * 60_000 },
    );
    await issuedAgo(path, HOUR);
    assert.equal((await source.state()).state, "valid");
    const auth = await source.getToken();
    assert.notEqual(auth.token, credentials.access_token);
    assert.equal(refreshes(), 1);
  });

  it("keeps handing out a still-valid token when refreshing ahead fails", async () => {
    const { source, path, refreshes, credentials } = await setup(
      { expiry_date: Date.now() + 2 * 60_000 },
      { refreshAheadMs: 5 * 60_000 },
    );
    await issuedAgo(path, HOUR);
    qwen.fake.override(TOKEN_PATH, { status: 503, body: "{}" });
    assert.equal((await source.getToken()).token, credentials.access_token);
    assert.equal(refreshes(), 1);
    // Not retried on every call: a pause follows the failure.
    assert.equal((await source.getToken()).token, credentials.access_token);
    assert.equal(refreshes(), 1);
  });

  it("keeps handing out a still-valid token when the lock cannot be created (a full disk)", async () => {
    // A lock path below a regular file: creating it fails with ENOTDIR, as ENOSPC would.
    const blocker = join(home, "not-a-folder");
    await writeFile(blocker, "");
    const lockPath = join(blocker, "oauth_creds.lock");
    const { source, path, refreshes, credentials } = await setup(
      { expiry_date: Date.now() + 2 * 60_000 },
      { refreshAheadMs: 5 * 60_000, lockPath },
    );
    await issuedAgo(path, HOUR);
    assert.equal((await source.getToken()).token, credentials.access_token);
    assert.equal(refreshes(), 0);
    // Once the token is no longer valid, the failure is the caller's to see.
    const expired = await setup({ expiry_date: Date.now() - 1_000 }, { lockPath });
    await assert.rejects(expired.source.getToken(), { code: "lock_failed" });
  });

  it("refreshes a short-lived token from the file only half way through its usable life", async () => {
    // Written just now, valid 2 minutes: 90 s of usable life, so the window is 45 s, not 5 min.
    let clock = Date.now();
    const { source, refreshes, credentials } = await setup(
      { expiry_date: clock + 2 * 60_000 },
      { refreshAheadMs: 5 * 60_000, now: () => clock },
    );
    assert.equal((await source.getToken()).token, credentials.access_token);
    clock += 40_000;
    assert.equal((await source.getToken()).token, credentials.access_token);
    assert.equal(refreshes(), 0);
    clock += 10_000;
    assert.notEqual((await source.getToken()).token, credentials.access_token);
    assert.equal(refreshes(), 1);
  });

  it("refreshes a short-lived token it got itself only half way through its usable life", async () => {
    const short = await startFakeQwen({ tokenExpiresIn: 120 });
    try {
      let clock = Date.now();
      const { source, credentials } = await setup({}, {
        oauthBaseUrl: short.url,
        refreshAheadMs: 5 * 60_000,
        now: () => clock,
      });
      short.fake.addRefreshToken(credentials.refresh_token);
      const first = (await source.getToken()).token;
      assert.notEqual(first, credentials.access_token);
      for (let i = 0; i < 5; i++) assert.equal((await source.getToken()).token, first);
      clock += 40_000;
      assert.equal((await source.getToken()).token, first);
      assert.equal(short.fake.refreshRequests.length, 1);
      clock += 10_000;
      assert.notEqual((await source.getToken()).token, first);
      assert.equal(short.fake.refreshRequests.length, 2);
    } finally {
      await short.close();
    }
  });

  it("refreshes a valid token on forceRefresh", async () => {
    const { source, refreshes, credentials } = await setup({ expiry_date: Date.now() + HOUR });
    const auth = await source.getToken({ forceRefresh: true });
    assert.notEqual(auth.token, credentials.access_token);
    assert.equal(refreshes(), 1);
  });

  it("on forceRefresh uses a different token already on disk instead of refreshing", async () => {
    const { source, path, refreshes, credentials } = await setup(
      { expiry_date: Date.now() + HOUR },
      { statIntervalMs: 60_000 },
    );
    const rejected = (await source.getToken()).token;
    await writeFile(
      path,
      JSON.stringify({ ...credentials, access_token: "access-newer" }, null, 2),
    );
    const auth = await source.getToken({ forceRefresh: true });
    assert.notEqual(rejected, "access-newer");
    assert.equal(auth.token, "access-newer");
    assert.equal(refreshes(), 0);
  });

  it("sends one refresh for concurrent forceRefresh calls after one rejection", async () => {
    const { source, refreshes } = await setup({ expiry_date: Date.now() + HOUR });
    const rejected = (await source.getToken()).token;
    const auths = await Promise.all(
      Array.from({ length: 10 }, () => source.getToken({ forceRefresh: true })),
    );
    assert.equal(refreshes(), 1);
    assert.equal(new Set(auths.map((a) => a.token)).size, 1);
    assert.notEqual(auths[0].token, rejected);
  });

  it("refresh() reports whether it refreshed", async () => {
    const { source, refreshes } = await setup();
    assert.equal((await source.refresh()).refreshed, true);
    assert.equal((await source.refresh()).refreshed, false);
    assert.equal(refreshes(), 1);
  });

  it("reports a missing file as no_credentials (exit 3)", async () => {
    const { source, path } = await setup();
    await rm(path);
    assert.equal((await source.state()).state, "missing");
    await assert.rejects(source.getToken(), (error: Error & Record<string, unknown>) => {
      assert.equal(error.code, "no_credentials");
      assert.equal(error.exitCode, 3);
      assert.ok(error.message.includes(path));
      return true;
    });
  });

  it("defaults the base URL to DashScope without resource_url", async () => {
    const { source } = await setup({ resource_url: undefined, expiry_date: Date.now() + HOUR });
    assert.equal(
      (await source.getToken()).baseUrl,
      "https://dashscope.aliyuncs.com/compatible-mode/v1",
    );
  });

  it("peeks a fresh token without I/O only within the stat interval, and never an old one", async () => {
    const fresh = await setup({ expiry_date: Date.now() + HOUR }, { statIntervalMs: 60_000 });
    assert.equal(fresh.source.peekToken(), undefined, "nothing read yet");
    const auth = await fresh.source.getToken();
    assert.equal(fresh.source.peekToken(), auth);

    const uncached = await setup({ expiry_date: Date.now() + HOUR }, { statIntervalMs: 0 });
    await uncached.source.getToken();
    assert.equal(uncached.source.peekToken(), undefined, "the interval passed: stat first");

    const expired = await setup({}, { statIntervalMs: 60_000 });
    await expired.source.state();
    assert.equal(expired.source.peekToken(), undefined, "an expired token needs a refresh");
    assert.equal(expired.refreshes(), 0);
  });
});
