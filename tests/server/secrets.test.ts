/**
 * What no HTTP client of `qwen serve` and no log line may get, whatever the disk holds: a token
 * quoted from a corrupt credentials file, or a path of the home folder.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { accountOf } from "../../src/accounts/account.ts";
import { oauthCredentialsPath } from "../../src/credentials/paths.ts";
import { OAuthTokenSource } from "../../src/credentials/token-source.ts";
import { AccountPool } from "../../src/pool/pool.ts";
import { createApp } from "../../src/server/app.ts";
import { createLogger } from "../../src/server/log.ts";
import { tempHome } from "../helpers/run-cli.ts";
import { writeCreds } from "../helpers/temp-homes.ts";

const ENDPOINTS = [
  ["/v1/chat/completions", { model: "coder-model", messages: [{ role: "user", content: "hi" }] }],
  ["/v1/messages", {
    model: "claude-sonnet-4-5",
    max_tokens: 16,
    messages: [{ role: "user", content: "hi" }],
  }],
  ["/v1/responses", { model: "coder-model", input: "hi" }],
] as const;

/** Both runtimes' JSON parsers quote an unquoted token back in their message. */
const CORRUPT =
  '{\n  "access_token": SECRETtoken0123456789,\n  "refresh_token": "SECRETrefresh"\n}';

describe("serve: a corrupt credentials file", () => {
  let home: { home: string; cleanup: () => Promise<void> };
  before(async () => {
    home = await tempHome();
    await writeCreds(home.home, "oauth_creds.json", CORRUPT);
    await writeCreds(home.home, "oauth_creds_b.json", CORRUPT);
  });
  after(() => home.cleanup());

  function app(accounts: string[]) {
    const lines: string[] = [];
    const pool = new AccountPool({
      strategy: "fill-first",
      entries: accounts.map((account) =>
        accountOf(
          new OAuthTokenSource({
            path: oauthCredentialsPath(home.home, account),
            account,
            oauthBaseUrl: "http://127.0.0.1:9", // Never reached: the file is refused first.
            fetch: () => Promise.reject(new Error("no network in this test")),
          }),
        )
      ),
    });
    const handler = createApp({
      pool,
      fetch: () => Promise.reject(new Error("no network in this test")),
      logger: createLogger({ format: "text", verbose: true, write: (l) => lines.push(l) }),
      security: { apiKeys: [], corsOrigins: [], allowHosts: [], loopback: true, port: () => 8080 },
      userAgent: "qwen/test (linux; x64)",
    });
    return { handler, lines };
  }

  for (const accounts of [["default"], ["default", "b"]]) {
    it(`answers without the token or a path, with ${accounts.length} account(s)`, async () => {
      const { handler, lines } = app(accounts);
      for (const [path, body] of ENDPOINTS) {
        const response = await handler(
          new Request(`http://127.0.0.1:8080${path}`, {
            method: "POST",
            headers: { host: "127.0.0.1:8080", "content-type": "application/json" },
            body: JSON.stringify(body),
          }),
        );
        const text = await response.text();
        assert.ok(response.status >= 400, `${path}: ${response.status}`);
        assert.ok(!text.includes("SECRET"), `${path}: ${text}`);
        assert.ok(!text.includes(home.home), `${path}: ${text}`);
        assert.ok(!text.includes("oauth_creds"), `${path}: ${text}`);
        if (accounts.length > 1) {
          assert.equal(response.status, 401, text);
          assert.match(
            JSON.parse(text).error.message,
            /"b": The Qwen credentials file cannot be used: run "qwen status"/,
          );
        }
      }
      for (const path of ["/v1/models", "/health"]) {
        const response = await handler(
          new Request(`http://127.0.0.1:8080${path}`, { headers: { host: "127.0.0.1:8080" } }),
        );
        const text = await response.text();
        assert.ok(!text.includes("SECRET") && !text.includes(home.home), `${path}: ${text}`);
      }
      assert.ok(!lines.join("").includes("SECRET"), lines.join(""));
    });
  }
});
