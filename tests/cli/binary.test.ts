/**
 * The compiled binary, as users run it: the same behaviours the source tests check, once,
 * end to end (login against the fake OAuth server, status, a streamed answer through serve,
 * and a clean SIGTERM).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { oauthCredentialsPath } from "../../src/credentials/paths.ts";
import { compiledBinary } from "../helpers/compiled-binary.ts";
import { type RunningFakeQwen, startFakeQwen } from "../helpers/fake-qwen.ts";
import { type RunningFakeUpstream, startFakeUpstream } from "../helpers/fake-upstream.ts";
import { runCli, tempHome } from "../helpers/run-cli.ts";
import { type RunningServe, startServe, stopServe } from "../helpers/serve-process.ts";

describe("the compiled binary", () => {
  let binary: string;
  let upstream: RunningFakeUpstream;
  let qwen: RunningFakeQwen;
  let home: { home: string; cleanup: () => Promise<void> };

  before(async () => {
    binary = compiledBinary();
    upstream = await startFakeUpstream();
    qwen = await startFakeQwen({ interval: 0.2, resourceUrl: upstream.server.url });
    home = await tempHome();
  });
  after(async () => {
    await upstream.close();
    await qwen.close();
    await home.cleanup();
  });

  it("prints the bare version from package.json", async () => {
    const pkg = JSON.parse(await readFile("package.json", "utf8"));
    const r = await runCli(["--version"], { binary });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${pkg.version}\n`);
  });

  it("names its commit, runtime and repository, and carries the address in its file", async () => {
    const r = await runCli(["version", "--verbose"], { binary });
    assert.equal(r.code, 0, r.stderr);
    // Built by scripts/build.ts, it carries the commit it was built from; not read at run time.
    assert.match(
      r.stdout,
      /^version {5}\d+\.\d+\.\d+\ncommit {6}(?:[0-9a-f]{40}(?: \(with uncommitted changes\))?|none \(built outside a git checkout\))\nruntime {5}bun \d/,
    );
    assert.match(r.stdout, /^repository {2}https:\/\/github\.com\/qwen-serve\/qwen$/m);
    // How the install script and qwen upgrade recognise our binary without running it.
    const file = await readFile(binary);
    assert.ok(file.includes(Buffer.from("github.com/qwen-serve/qwen")));
  });

  it("says there are no credentials with exit 3", async () => {
    const r = await runCli(["status", "--json"], { binary, env: { QWEN_HOME: home.home } });
    assert.equal(r.code, 3);
    const report = JSON.parse(r.stdout);
    assert.equal(report.usable, false);
    assert.deepEqual(report.accounts, []);
  });

  it("logs in with the device flow and writes the official file, mode 0600", async () => {
    const r = await runCli(["auth", "--no-browser", "--no-qr"], {
      binary,
      env: { QWEN_HOME: home.home, QWEN_OAUTH_BASE_URL: qwen.url },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    const path = oauthCredentialsPath(home.home);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const saved = JSON.parse(await readFile(path, "utf8"));
    assert.deepEqual(
      Object.keys(saved).sort(),
      ["access_token", "expiry_date", "refresh_token", "resource_url", "token_type"],
    );
    assert.equal(saved.resource_url, upstream.server.url);
    const status = await runCli(["status", "--json"], { binary, env: { QWEN_HOME: home.home } });
    assert.equal(status.code, 0);
    assert.equal(JSON.parse(status.stdout).accounts[0].file, join(home.home, "oauth_creds.json"));
  });

  it("serves a streamed answer with that login and exits 0 on SIGTERM", async () => {
    let serve: RunningServe | undefined;
    try {
      serve = await startServe([], { QWEN_HOME: home.home, QWEN_OAUTH_BASE_URL: qwen.url }, {
        binary,
      });
      const response = await fetch(`${serve.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "coder-model",
          stream: true,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
      const text = await response.text();
      assert.match(text, /data: \[DONE\]/);
      // process.kill, not child.kill: Deno's child_process reports a signal it sent itself as
      // the exit reason, hiding the code the child chose.
      process.kill(serve.child.pid!, "SIGTERM");
      assert.deepEqual(await serve.exited, { code: 0, signal: null });
    } finally {
      await stopServe(serve);
    }
  });
});
