/**
 * What no HTTP client of `qwen serve` and no log line may get, whatever an upstream or the disk
 * holds: a credential an upstream quotes back, a token quoted from a corrupt credentials file, or
 * a path of the home folder.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { accountOf } from "../../src/accounts/account.ts";
import { oauthCredentialsPath } from "../../src/credentials/paths.ts";
import type { TokenSource, UpstreamAuth } from "../../src/credentials/types.ts";
import { OAuthTokenSource } from "../../src/credentials/token-source.ts";
import { AccountPool } from "../../src/pool/pool.ts";
import { createApp } from "../../src/server/app.ts";
import { createLogger } from "../../src/server/log.ts";
import type { Server } from "../../src/runtime/mod.ts";
import { tempHome } from "../helpers/run-cli.ts";
import { writeCreds } from "../helpers/temp-homes.ts";
import { startServer } from "../helpers/with-server.ts";

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

/** One account's credentials, handed out as they are: a key, or a token with its refresh token. */
class FixedSource implements TokenSource {
  constructor(readonly account: string, private readonly auth: UpstreamAuth) {}
  getToken(): Promise<UpstreamAuth> {
    return Promise.resolve(this.auth);
  }
  state() {
    return Promise.resolve({ state: "valid" as const });
  }
}

/** How an upstream may quote a credential back: as it is, or escaped as JSON allows. */
const ECHOES: [string, (secret: string) => { body: string; contentType?: string }][] = [
  ["in an OpenAI error", (s) => ({
    body: JSON.stringify({
      error: {
        message: `Incorrect API key provided: ${s}`,
        type: "invalid_request_error",
        param: null,
        code: "invalid_api_key",
      },
    }),
  })],
  ["with JSON escapes", (s) => ({
    body: JSON.stringify({
      error: { message: "Incorrect API key provided: KEY", type: "x", param: null, code: "bad" },
    }).replace(
      "KEY",
      `\\u${s.charCodeAt(0).toString(16).padStart(4, "0")}${s.slice(1).replaceAll("/", "\\/")}`,
    ),
  })],
  ["in a DashScope error, escaped", (s) => ({
    body: `{"code":"InvalidApiKey","message":"bad key ${
      s.replaceAll("/", "\\/")
    }","request_id":"r-1"}`,
  })],
  ["as plain text", (s) => ({ body: `Unauthorized: Bearer ${s}`, contentType: "text/plain" })],
];

describe("serve: an upstream that quotes a credential back", () => {
  const KEY = "sk-live/0123456789abcdef";
  const TOKEN = "oauth-access/0123456789";
  const REFRESH = "oauth-refresh/0123456789";
  let upstream: Server;
  /** What the fake upstream answers next: a status and the body made of one echoed secret. */
  let answer: { status: number; body: string; contentType?: string } = { status: 500, body: "" };
  before(async () => {
    upstream = await startServer(() =>
      Promise.resolve(
        new Response(answer.body, {
          status: answer.status,
          headers: { "content-type": answer.contentType ?? "application/json" },
        }),
      )
    );
  });
  after(() => upstream.close(true));

  function app(auth: Omit<UpstreamAuth, "baseUrl">) {
    const lines: string[] = [];
    const pool = new AccountPool({
      strategy: "fill-first",
      entries: [accountOf(new FixedSource("a", { ...auth, baseUrl: `${upstream.url}/v1` }))],
    });
    const handler = createApp({
      pool,
      fetch: (input, init) => fetch(input, init),
      logger: createLogger({ format: "text", verbose: true, write: (l) => lines.push(l) }),
      security: { apiKeys: [], corsOrigins: [], allowHosts: [], loopback: true, port: () => 8080 },
      userAgent: "qwen/test (linux; x64)",
      sleep: () => Promise.resolve(),
      retry: { maxRetries: 1, random: () => 0 },
    });
    return { handler, lines, pool };
  }

  /** Whether `text` holds the secret, as it is or as a reader of JSON would decode it. */
  function holds(text: string, secret: string): boolean {
    const decoded = text.replaceAll("\\/", "/").replace(
      /\\u([0-9a-fA-F]{4})/g,
      (_, hex) => String.fromCharCode(parseInt(hex, 16)),
    );
    return decoded.includes(secret) || decoded.includes(secret.slice(1));
  }

  const accounts: [string, Omit<UpstreamAuth, "baseUrl">, string[]][] = [
    ["an API key", { token: KEY, kind: "api_key" }, [KEY]],
    ["an OAuth token and its refresh token", {
      token: TOKEN,
      kind: "oauth",
      otherSecrets: [REFRESH],
    }, [TOKEN, REFRESH]],
  ];
  for (const [what, auth, secrets] of accounts) {
    it(`keeps ${what} from the client and the log, on every endpoint`, async () => {
      const { handler, lines, pool } = app(auth);
      for (const [path, body] of ENDPOINTS) {
        for (const status of [400, 401, 429]) {
          for (const secret of secrets) {
            for (const [how, echo] of ECHOES) {
              answer = { status, ...echo(secret) };
              pool.members[0].health = { state: "ok", changedAt: 0 };
              pool.members[0].throttledUntil = 0;
              const response = await handler(
                new Request(`http://127.0.0.1:8080${path}`, {
                  method: "POST",
                  headers: { host: "127.0.0.1:8080", "content-type": "application/json" },
                  body: JSON.stringify(body),
                }),
              );
              const text = await response.text();
              const where = `${path} ${status} ${how}`;
              assert.equal(response.status, status === 401 ? 401 : status, `${where}: ${text}`);
              for (const s of secrets) assert.ok(!holds(text, s), `${where}: ${text}`);
            }
          }
        }
      }
      const log = lines.join("");
      assert.match(log, /error=/);
      for (const s of secrets) assert.ok(!holds(log, s), log);
    });
  }
});
