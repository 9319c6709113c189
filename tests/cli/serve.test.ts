/**
 * `qwen serve` as a process: the real entrypoint on the runtime running the tests, against the
 * fake OAuth server and the fake model API on loopback, with a temporary QWEN_HOME.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { oauthCredentialsPath } from "../../src/credentials/paths.ts";
import { writeOAuthCredentials } from "../../src/credentials/store.ts";
import type { Server } from "../../src/runtime/mod.ts";
import { type RunningFakeQwen, startFakeQwen } from "../helpers/fake-qwen.ts";
import { type RunningFakeUpstream, startFakeUpstream } from "../helpers/fake-upstream.ts";
import { runInProcess } from "../helpers/fake-context.ts";
import { runCli, tempHome } from "../helpers/run-cli.ts";
import { type RunningServe, startServe, stopServe } from "../helpers/serve-process.ts";
import { waitFor } from "../helpers/wait-for.ts";
import { startServer } from "../helpers/with-server.ts";

const HELLO = { model: "coder-model", messages: [{ role: "user", content: "hi" }] };

// In process up to the refusals that come before listening; from there on, a process.
describe("qwen serve: refusals at start", () => {
  it("prints its help with every flag and variable", async () => {
    const r = await runInProcess(["serve", "--help"]);
    assert.equal(r.code, 0);
    for (
      const word of [
        "--host",
        "--port",
        "--api-key",
        "--account",
        "--allow-host",
        "--cors-origin",
        "--max-body",
        "--max-response",
        "--grace",
        "--first-byte-timeout",
        "--idle-timeout",
        "--verbose",
        "--log-format",
        "QWEN_SERVE_API_KEYS",
        "PORT",
      ]
    ) assert.ok(r.stdout.includes(word), word);
  });

  it("refuses a non-loopback bind without an API key: exit 2", async () => {
    const home = await tempHome();
    try {
      const r = await runInProcess(["serve", "--host", "0.0.0.0", "--port", "0"], {
        home: home.home,
      });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^error: Refusing to listen on "0\.0\.0\.0" without an API key/);
      assert.equal(r.stderr.trim().split("\n").length, 1);
    } finally {
      await home.cleanup();
    }
  });

  it("refuses it from the environment too, and names a bad value's variable", async () => {
    const home = await tempHome();
    try {
      const r = await runInProcess(["serve"], {
        home: home.home,
        env: { QWEN_SERVE_HOST: "0.0.0.0", QWEN_SERVE_PORT: "0" },
      });
      assert.equal(r.code, 2);
      const bad = await runInProcess(["serve"], {
        home: home.home,
        env: { QWEN_SERVE_MAX_BODY: "lots" },
      });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /Invalid value "lots" for "QWEN_SERVE_MAX_BODY"/);
    } finally {
      await home.cleanup();
    }
  });

  it("says in one line that the port is taken: exit 1", async () => {
    const home = await tempHome();
    const taken: Server = await startServer(() => new Response("busy"));
    try {
      const r = await runCli(["serve", "--port", String(taken.port)], {
        env: { QWEN_HOME: home.home },
      });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `error: Cannot listen on "127.0.0.1:${taken.port}": address already in use\n`,
      );
    } finally {
      await taken.close(true);
      await home.cleanup();
    }
  });
});

describe("qwen serve: running", () => {
  let qwen: RunningFakeQwen;
  let upstream: RunningFakeUpstream;
  before(async () => {
    upstream = await startFakeUpstream();
    qwen = await startFakeQwen({ refreshDelayMs: 300, resourceUrl: upstream.server.url });
  });
  after(async () => {
    await upstream.close();
    await qwen.close();
  });

  async function writeCredentials(home: string, expiryDate: number) {
    const refresh = `seed-${crypto.randomUUID()}`;
    qwen.fake.addRefreshToken(refresh);
    await writeOAuthCredentials(oauthCredentialsPath(home), {
      access_token: `access-${crypto.randomUUID()}`,
      refresh_token: refresh,
      token_type: "Bearer",
      resource_url: upstream.server.url,
      expiry_date: expiryDate,
    });
  }

  it("starts without credentials and becomes ready once they appear", async () => {
    const home = await tempHome();
    let serve: RunningServe | undefined;
    try {
      serve = await startServe([], { QWEN_HOME: home.home, QWEN_OAUTH_BASE_URL: qwen.url });
      const before = await fetch(`${serve.url}/health`);
      assert.equal(before.status, 503);
      assert.match((await before.json()).reason, /qwen auth/);
      const refused = await fetch(`${serve.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(HELLO),
      });
      assert.equal(refused.status, 401);
      assert.equal((await refused.json()).error.code, "no_credentials");

      await writeCredentials(home.home, Date.now() + 3_600_000);
      await waitFor(async () => {
        const response = await fetch(`${serve!.url}/health`);
        await response.body?.cancel();
        return response.status === 200;
      }, { what: "/health to answer 200", intervalMs: 50 });
      const answered = await fetch(`${serve.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(HELLO),
      });
      assert.equal(answered.status, 200);
      assert.equal((await answered.json()).choices[0].message.content, "Hello!");
      // Log lines are written in batches, a few milliseconds late.
      await waitFor(
        () => /POST \/v1\/chat\/completions 200 \d+ms model=coder-model/.test(serve!.stderr()),
        { intervalMs: 50 },
      );
    } finally {
      await stopServe(serve);
      await home.cleanup();
    }
  });

  it("on SIGTERM lets an open stream finish, then exits 0", { timeout: 30_000 }, async () => {
    const home = await tempHome();
    let serve: RunningServe | undefined;
    try {
      await writeCredentials(home.home, Date.now() + 3_600_000);
      serve = await startServe(["--grace", "10"], {
        QWEN_HOME: home.home,
        QWEN_OAUTH_BASE_URL: qwen.url,
      });
      upstream.fake.next({ kind: "ok", chunkDelayMs: 200, chunks: ["a", "b", "c", "d", "e"] });
      const response = await fetch(`${serve.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...HELLO, stream: true }),
      });
      const reader = response.body!.getReader();
      let text = new TextDecoder().decode((await reader.read()).value);
      process.kill(serve.child.pid!, "SIGTERM");
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      assert.match(text, /data: \[DONE\]\n\n$/);
      const exit = await serve.exited;
      assert.equal(exit.code, 0);
      assert.match(serve.stderr(), /SIGTERM: no new connections/);
    } finally {
      await stopServe(serve);
      await home.cleanup();
    }
  });

  it(
    "at the end of the grace period ends open streams with an error event, each in its API's shape",
    { timeout: 30_000 },
    async () => {
      const home = await tempHome();
      let serve: RunningServe | undefined;
      try {
        await writeCredentials(home.home, Date.now() + 3_600_000);
        serve = await startServe(["--grace", "1"], {
          QWEN_HOME: home.home,
          QWEN_OAUTH_BASE_URL: qwen.url,
        });
        const slow = { kind: "ok", chunkDelayMs: 500, chunks: Array(60).fill("x") } as const;
        upstream.fake.next(slow, slow, slow);
        const streams = await Promise.all([
          ["/v1/chat/completions", { ...HELLO, stream: true }],
          ["/v1/messages", { ...HELLO, max_tokens: 100, stream: true }],
          ["/v1/responses", { model: "coder-model", input: "hi", stream: true }],
        ].map(async ([path, body]) => {
          const response = await fetch(`${serve!.url}${path}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          });
          assert.equal(response.status, 200, String(path));
          const reader = response.body!.getReader();
          let text = new TextDecoder().decode((await reader.read()).value);
          return {
            path,
            rest: (async () => {
              try {
                for (;;) {
                  const { done, value } = await reader.read();
                  if (done) return text;
                  text += new TextDecoder().decode(value);
                }
              } catch {
                return `${text}<connection closed>`;
              }
            })(),
          };
        }));
        process.kill(serve.child.pid!, "SIGTERM");
        const [chat, messages, responses] = await Promise.all(streams.map((s) => s.rest));
        assert.match(
          chat,
          /data: \{"error":\{"message":"qwen serve shut down[^\n]*"server_shutdown"/,
        );
        assert.doesNotMatch(chat, /\[DONE\]|<connection closed>/);
        assert.match(
          messages,
          /event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"qwen serve shut down/,
        );
        assert.doesNotMatch(messages, /message_stop|<connection closed>/);
        assert.match(responses, /event: response\.failed\n[^\n]*qwen serve shut down/);
        assert.doesNotMatch(responses, /response\.completed|<connection closed>/);
        const exit = await serve.exited;
        assert.equal(exit.code, 0);
        const log = serve.stderr();
        assert.match(log, /grace period over/);
        for (const path of ["/v1/chat/completions", "/v1/messages", "/v1/responses"]) {
          assert.match(
            log,
            new RegExp(`POST ${path} 200 .*error="qwen serve shut down before the answer`),
          );
        }
        assert.doesNotMatch(log, / 499 /);
      } finally {
        await stopServe(serve);
        await home.cleanup();
      }
    },
  );

  it("exits at once on a second signal during the drain", { timeout: 30_000 }, async () => {
    const home = await tempHome();
    let serve: RunningServe | undefined;
    try {
      await writeCredentials(home.home, Date.now() + 3_600_000);
      serve = await startServe(["--grace", "20"], {
        QWEN_HOME: home.home,
        QWEN_OAUTH_BASE_URL: qwen.url,
      });
      upstream.fake.next({ kind: "ok", chunkDelayMs: 1000, chunks: ["a", "b", "c", "d", "e"] });
      const controller = new AbortController();
      const response = await fetch(`${serve.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...HELLO, stream: true }),
        signal: controller.signal,
      });
      const reader = response.body!.getReader();
      await reader.read();
      process.kill(serve.child.pid!, "SIGTERM");
      await waitFor(() => /SIGTERM: no new/.test(serve!.stderr()), { intervalMs: 50 });
      const started = Date.now();
      process.kill(serve.child.pid!, "SIGTERM");
      const exit = await serve.exited;
      assert.ok(Date.now() - started < 2000, `exited after ${Date.now() - started} ms`);
      assert.notEqual(exit.code, 0);
      controller.abort();
      await reader.read().catch(() => {});
    } finally {
      await stopServe(serve);
      await home.cleanup();
    }
  });

  it(
    "two processes sharing one expired file refresh it exactly once",
    { timeout: 30_000 },
    async () => {
      const home = await tempHome();
      const serves: RunningServe[] = [];
      try {
        await writeCredentials(home.home, Date.now() - 1000);
        const env = { QWEN_HOME: home.home, QWEN_OAUTH_BASE_URL: qwen.url };
        serves.push(await startServe([], env), await startServe([], env));
        const before = qwen.fake.refreshRequests.length;
        const responses = await Promise.all(
          serves.flatMap((s) =>
            Array.from({ length: 10 }, () =>
              fetch(`${s.url}/v1/chat/completions`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify(HELLO),
              }))
          ),
        );
        for (const response of responses) {
          assert.equal(response.status, 200);
          await response.body?.cancel();
        }
        assert.equal(qwen.fake.refreshRequests.length - before, 1);
      } finally {
        for (const s of serves) await stopServe(s);
        await home.cleanup();
      }
    },
  );
});
