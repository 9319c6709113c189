/**
 * `qwen serve` and SIGHUP: the real entrypoint as a process, with `--env-file`, against the fake
 * model API on loopback and a temporary QWEN_HOME.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { runInProcess } from "../helpers/fake-context.ts";
import { type RunningFakeUpstream, startFakeUpstream } from "../helpers/fake-upstream.ts";
import { tempHome } from "../helpers/run-cli.ts";
import { type RunningServe, startServe, stopServe } from "../helpers/serve-process.ts";
import { waitFor } from "../helpers/wait-for.ts";

const FIRST_CLIENT_KEY = "client-key-first-0001";
const SECOND_CLIENT_KEY = "client-key-second-0002";
const FIRST_UPSTREAM_KEY = "sk-reload-upstream-one";
const SECOND_UPSTREAM_KEY = "sk-reload-upstream-two";

function chat(url: string, key: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...body }),
  });
}

/** Sends SIGHUP and waits for the reload's last log line, the `count`-th of the run. */
async function hangUp(serve: RunningServe, count: number): Promise<void> {
  process.kill(serve.child.pid!, "SIGHUP");
  await waitFor(() => {
    const { exitCode, signalCode } = serve.child;
    if (exitCode !== null || signalCode !== null) {
      throw new Error(`qwen serve exited on SIGHUP (${signalCode ?? exitCode})`);
    }
    return serve.stderr().split("SIGHUP: configuration read again").length - 1 >= count;
  }, { intervalMs: 50, what: `reload number ${count} to be logged` });
}

describe("qwen serve --env-file at start", () => {
  it("refuses a malformed file: exit 2, naming the line", async () => {
    const home = await tempHome();
    try {
      const envFile = join(home.home, "serve.env");
      await writeFile(envFile, "QWEN_SERVE_PORT=0\nDASHSCOPE_API_KEY\n");
      const r = await runInProcess(["serve", "--env-file", envFile], { home: home.home });
      assert.equal(r.code, 2);
      assert.equal(
        r.stderr,
        `error: Cannot read the env file "${envFile}": line 2: expected KEY=value\n`,
      );
    } finally {
      await home.cleanup();
    }
  });

  it("takes a bad value's variable from the file", async () => {
    const home = await tempHome();
    try {
      const envFile = join(home.home, "serve.env");
      await writeFile(envFile, "QWEN_SERVE_MAX_BODY=lots\n");
      const r = await runInProcess(["serve"], {
        home: home.home,
        env: { QWEN_SERVE_ENV_FILE: envFile },
      });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /Invalid value "lots" for "QWEN_SERVE_MAX_BODY"/);
    } finally {
      await home.cleanup();
    }
  });
});

describe("qwen serve: SIGHUP", () => {
  let upstream: RunningFakeUpstream;
  before(async () => {
    upstream = await startFakeUpstream();
  });
  after(async () => {
    await upstream.close();
  });

  it(
    "reads --env-file again: a new client key, upstream key and model map apply, and an open " +
      "stream goes on",
    { timeout: 30_000 },
    async () => {
      const home = await tempHome();
      const envFile = join(home.home, "serve.env");
      let serve: RunningServe | undefined;
      try {
        await writeFile(
          envFile,
          [
            "# qwen serve",
            `QWEN_SERVE_API_KEYS=${FIRST_CLIENT_KEY}`,
            `DASHSCOPE_API_KEY=${FIRST_UPSTREAM_KEY}`,
            `DASHSCOPE_BASE_URL="${upstream.baseUrl}"`,
            "",
          ].join("\n"),
        );
        serve = await startServe(["--env-file", envFile], { QWEN_HOME: home.home });
        const first = await chat(serve.url, FIRST_CLIENT_KEY, { model: "qwen3-max" });
        assert.equal(first.status, 200);
        await first.body?.cancel();
        assert.equal((await chat(serve.url, SECOND_CLIENT_KEY, {})).status, 401);
        assert.equal(upstream.fake.callsWith(FIRST_UPSTREAM_KEY).length, 1);

        upstream.fake.next({ kind: "ok", chunkDelayMs: 300, chunks: ["a", "b", "c", "d", "e"] });
        const stream = await chat(serve.url, FIRST_CLIENT_KEY, { stream: true });
        const reader = stream.body!.getReader();
        let text = new TextDecoder().decode((await reader.read()).value);

        await writeFile(
          envFile,
          [
            `QWEN_SERVE_API_KEYS=${FIRST_CLIENT_KEY},${SECOND_CLIENT_KEY}`,
            `DASHSCOPE_API_KEY=${SECOND_UPSTREAM_KEY}`,
            `DASHSCOPE_BASE_URL=${upstream.baseUrl}`,
            "QWEN_SERVE_MODEL_MAP=house-model=qwen3-coder-flash",
          ].join("\n"),
        );
        await hangUp(serve, 1);

        const second = await chat(serve.url, SECOND_CLIENT_KEY, { model: "house-model" });
        assert.equal(second.status, 200);
        await second.body?.cancel();
        const calls = upstream.fake.callsWith(SECOND_UPSTREAM_KEY);
        assert.equal(calls.length, 1);
        assert.equal(JSON.parse(calls[0].body).model, "qwen3-coder-flash");

        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value);
        }
        assert.match(text, /data: \[DONE\]\n\n$/);
        assert.equal(serve.child.exitCode, null);
        assert.ok(!serve.stderr().includes(SECOND_UPSTREAM_KEY), "a key reached the log");
      } finally {
        await stopServe(serve);
        await home.cleanup();
      }
    },
  );

  it(
    "keeps running: a bad file leaves the running configuration, a new timeout waits for a restart",
    { timeout: 30_000 },
    async () => {
      const home = await tempHome();
      const envFile = join(home.home, "serve.env");
      let serve: RunningServe | undefined;
      try {
        await writeFile(envFile, `QWEN_SERVE_API_KEYS=${FIRST_CLIENT_KEY}\n`);
        serve = await startServe(["--env-file", envFile], { QWEN_HOME: home.home });

        await writeFile(envFile, `QWEN_SERVE_API_KEYS=${SECOND_CLIENT_KEY}\nnot a setting\n`);
        await hangUp(serve, 1);
        assert.match(
          serve.stderr(),
          /SIGHUP: cannot read the configuration again: Cannot read the env file ".*": line 2: expected KEY=value; the running one stays/,
        );
        assert.ok(!serve.stderr().includes("not a setting"), "the line's content was logged");
        // The first key still passes (to "no accounts"), the second is still refused.
        const kept = await chat(serve.url, FIRST_CLIENT_KEY, {});
        assert.equal((await kept.json()).error.code, "no_credentials");
        const refused = await chat(serve.url, SECOND_CLIENT_KEY, {});
        assert.equal((await refused.json()).error.code, "invalid_api_key");

        // (--port is given on the command line, which wins over the file.)
        await writeFile(
          envFile,
          `QWEN_SERVE_API_KEYS=${FIRST_CLIENT_KEY}\nQWEN_SERVE_IDLE_TIMEOUT=60\nQWEN_SERVE_PORT=1\n`,
        );
        await hangUp(serve, 2);
        assert.match(serve.stderr(), /changed, but applied only by a restart: --idle-timeout\n/);

        const health = await fetch(`${serve.url}/health`);
        assert.equal(health.status, 503);
        await health.body?.cancel();
        assert.equal(serve.child.exitCode, null);
      } finally {
        await stopServe(serve);
        await home.cleanup();
      }
    },
  );

  it("does not stop a server started without --env-file", { timeout: 30_000 }, async () => {
    const home = await tempHome();
    let serve: RunningServe | undefined;
    try {
      serve = await startServe([], { QWEN_HOME: home.home });
      await hangUp(serve, 1);
      assert.match(serve.stderr(), /SIGHUP: configuration read again; no accounts/);
      const health = await fetch(`${serve.url}/health`);
      assert.equal(health.status, 503);
      await health.body?.cancel();
      assert.equal(serve.child.exitCode, null);
    } finally {
      await stopServe(serve);
      await home.cleanup();
    }
  });
});
