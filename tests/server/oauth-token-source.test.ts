/**
 * The app with the real OAuthTokenSource: a credentials file in a temporary QWEN_HOME, refreshes
 * against the fake OAuth server, model calls against the fake upstream that only accepts the
 * tokens the OAuth server issued.
 */
import { after, afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { oauthCredentialsPath } from "../../src/credentials/paths.ts";
import { writeOAuthCredentials } from "../../src/credentials/store.ts";
import { OAuthTokenSource } from "../../src/credentials/token-source.ts";
import { createApp } from "../../src/server/app.ts";

type App = ReturnType<typeof createApp>;
import { createLogger } from "../../src/server/log.ts";
import { type RunningFakeQwen, startFakeQwen } from "../helpers/fake-qwen.ts";
import { type RunningFakeUpstream, startFakeUpstream } from "../helpers/fake-upstream.ts";
import { tempHome } from "../helpers/run-cli.ts";
import { HELLO } from "./harness.ts";

describe("serve with the OAuth token source", () => {
  let qwen: RunningFakeQwen;
  let upstream: RunningFakeUpstream;
  let home: { home: string; cleanup: () => Promise<void> };
  let path: string;
  let app: App;

  beforeEach(async () => {
    upstream = await startFakeUpstream({
      acceptTokens: (token) => qwen.fake.issuedAccessTokens.includes(token),
    });
    // Refreshed tokens must point at the fake upstream too, never at the real portal.
    qwen = await startFakeQwen({ refreshDelayMs: 100, resourceUrl: upstream.server.url });
    home = await tempHome();
    path = oauthCredentialsPath(home.home);
    const tokens = new OAuthTokenSource({
      path,
      account: "default",
      oauthBaseUrl: qwen.url,
      fetch: (input, init) => fetch(input, init),
      statIntervalMs: 0,
    });
    app = createApp({
      tokens,
      fetch: (input, init) => fetch(input, init),
      logger: createLogger({ format: "text", verbose: false, write: () => {} }),
      security: { apiKeys: [], corsOrigins: [], allowHosts: [], loopback: true, port: () => 8080 },
      userAgent: "qwen/test (linux; x64)",
    });
  });

  afterEach(async () => {
    await upstream.close();
    await qwen.close();
    await home.cleanup();
  });
  after(() => {});

  async function writeCredentials(expiryDate: number, accessToken = "old-access") {
    qwen.fake.addRefreshToken("seed-refresh");
    await writeOAuthCredentials(path, {
      access_token: accessToken,
      refresh_token: "seed-refresh",
      token_type: "Bearer",
      resource_url: upstream.server.url,
      expiry_date: expiryDate,
    });
  }

  const chat = () =>
    app(
      new Request("http://127.0.0.1:8080/v1/chat/completions", {
        method: "POST",
        headers: { host: "127.0.0.1:8080", "content-type": "application/json" },
        body: JSON.stringify(HELLO),
      }),
    );

  it("on an upstream 401 refreshes once and retries with the new token", async () => {
    await writeCredentials(Date.now() + 3_600_000);
    const response = await chat();
    assert.equal(response.status, 200);
    assert.equal((await response.json()).choices[0].message.content, "Hello!");
    assert.equal(qwen.fake.refreshRequests.length, 1);
    const calls = upstream.fake.chatRequests.map((r) => r.headers.get("authorization"));
    assert.deepEqual(calls, [
      "Bearer old-access",
      `Bearer ${qwen.fake.issuedAccessTokens[0]}`,
    ]);
    const saved = JSON.parse(await readFile(path, "utf8"));
    assert.equal(saved.access_token, qwen.fake.issuedAccessTokens[0]);
  });

  it("refreshes exactly once for 50 concurrent requests at expiry", async () => {
    await writeCredentials(Date.now() - 1000);
    const responses = await Promise.all(Array.from({ length: 50 }, () => chat()));
    for (const response of responses) {
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }
    assert.equal(qwen.fake.refreshRequests.length, 1);
  });

  it("refreshes exactly once when 50 concurrent requests are all refused", async () => {
    await writeCredentials(Date.now() + 3_600_000);
    const responses = await Promise.all(Array.from({ length: 50 }, () => chat()));
    for (const response of responses) {
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }
    assert.equal(qwen.fake.refreshRequests.length, 1);
  });

  it("says the free tier ended when the refreshed token is refused too", async () => {
    upstream.fake.acceptTokens = () => false;
    await writeCredentials(Date.now() + 3_600_000);
    const response = await chat();
    assert.equal(response.status, 401);
    assert.match((await response.json()).error.message, /discontinued on 2026-04-15/);
    assert.equal(qwen.fake.refreshRequests.length, 1);
  });

  it("starts without credentials and becomes ready once the file appears", async () => {
    const health = () =>
      app(new Request("http://127.0.0.1:8080/health", { headers: { host: "127.0.0.1:8080" } }));
    const before = await health();
    assert.equal(before.status, 503);
    assert.match((await before.json()).reason, /qwen auth/);
    const refused = await chat();
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).error.code, "no_credentials");

    await writeCredentials(Date.now() + 3_600_000, "unused");
    qwen.fake.issuedAccessTokens.push("unused");
    const ready = await health();
    assert.equal(ready.status, 200);
    await ready.body?.cancel();
    const answered = await chat();
    assert.equal(answered.status, 200);
    await answered.body?.cancel();
  });
});
