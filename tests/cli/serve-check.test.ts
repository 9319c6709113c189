/**
 * `qwen serve --check`: the configuration and the accounts read as `qwen serve` reads them, one
 * line on what would be served, no port bound and no host called. In process, and once through
 * the compiled binary (as `qwen upgrade` runs it).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import type { Fetch } from "../../src/lib/context.ts";
import { compiledBinary } from "../helpers/compiled-binary.ts";
import { runInProcess } from "../helpers/fake-context.ts";
import { runCli } from "../helpers/run-cli.ts";
import { storeKeyFile, type TempHomes, tempHomes, writeCreds } from "../helpers/temp-homes.ts";

const KEY = "sk-0123456789abcdef9f2c";
const CLIENT_KEY = "a-long-random-client-key-0123456789";

/** A fetch that records and refuses: the check must never call it. */
function recordingFetch(): { fetch: Fetch; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    fetch: (input) => {
      calls.push(String(input instanceof Request ? input.url : input));
      return Promise.reject(new Error("no network in this test"));
    },
  };
}

/** A TCP port held open on 127.0.0.1 for the whole test file. */
async function holdPort(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

describe("qwen serve --check", () => {
  let homes: TempHomes;
  let held: Server;
  let heldPort: number;

  before(async () => {
    homes = await tempHomes();
    held = await holdPort();
    heldPort = (held.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise((resolve) => held.close(resolve));
    await homes.cleanup();
  });

  it("says what would be served, binding no port and calling no host", async () => {
    const home = await homes.fresh();
    await storeKeyFile(home, "work", KEY, "http://127.0.0.1:9/v1");
    // Expired: serving would refresh it on first use, so the check must not.
    await writeCreds(home, "default", {
      access_token: "old-access-token",
      refresh_token: "a-refresh-token",
      token_type: "Bearer",
      resource_url: "portal.qwen.ai",
      expiry_date: Date.now() - 3_600_000,
    });
    const envFile = join(home, "serve.env");
    await writeFile(
      envFile,
      `QWEN_SERVE_PORT=${heldPort}\nQWEN_SERVE_API_KEYS=${CLIENT_KEY}\nDASHSCOPE_API_KEY=${KEY}\n`,
    );
    const { fetch, calls } = recordingFetch();
    const r = await runInProcess(
      ["serve", "--check", "--env-file", envFile, "--strategy", "fill-first"],
      { home, fetch, env: { QWEN_OAUTH_BASE_URL: "http://127.0.0.1:9" } },
    );
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    // The port is held by this test: a check that bound it would have failed.
    assert.equal(
      r.stdout,
      `qwen serve would listen on http://127.0.0.1:${heldPort}/v1 (1 API key) with 3 accounts ` +
        "(fill-first): default, work, env-dashscope\n",
    );
    assert.deepEqual(calls, []);
    assert.ok(!r.stdout.includes(KEY) && !r.stderr.includes(CLIENT_KEY));
  });

  it("selects the accounts as serving would, and warns about what serving would only log", async () => {
    const home = await homes.fresh();
    await storeKeyFile(home, "work", KEY, "http://127.0.0.1:9/v1");
    await storeKeyFile(home, "unselected", KEY, "http://127.0.0.1:9/v1");
    await writeFile(join(home, "qwen_key_broken.json"), "{not json", { mode: 0o600 });
    const r = await runInProcess(
      [
        "serve",
        "--check",
        "--account",
        "work",
        "--account",
        "broken",
        "--account",
        "later",
        "--env-file",
        join(home, "missing.env"),
        "--host",
        "::1",
        "--port",
        "0",
      ],
      { home },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "qwen serve would listen on http://[::1]:<any free port>/v1 with 2 accounts " +
        "(round-robin): broken, work\n",
    );
    assert.equal(
      r.stderr,
      `warning: no env file "${join(home, "missing.env")}" yet: SIGHUP reads it once it exists\n` +
        `warning: no account "later" yet in "${home}" or the environment: it joins once it ` +
        'appears (see "qwen status")\n' +
        'warning: account "broken" cannot be used (invalid): not valid JSON\n',
    );
  });

  it("starts with no accounts, as serving does, and says so", async () => {
    const r = await runInProcess(["serve", "--check"], { home: homes.next() });
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      "qwen serve would listen on http://127.0.0.1:8080/v1 with no accounts yet\n",
    );
    assert.match(r.stderr, /^warning: no accounts yet: run "qwen auth"/);
  });

  it("exits 2 on a configuration error, naming it on stderr", async () => {
    const home = await homes.fresh();
    const badFile = join(home, "bad.env");
    await writeFile(badFile, "QWEN_SERVE_PORT=0\nDASHSCOPE_API_KEY\n");
    const badValue = join(home, "value.env");
    await writeFile(badValue, "QWEN_SERVE_GRACE=soon\n");
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--host", "0.0.0.0"], {}, /Refusing to listen on "0\.0\.0\.0" without an API key/],
      [
        ["--host", "0.0.0.0", "--api-key", "short"],
        {},
        /Refusing to listen on "0\.0\.0\.0" with an API key shorter than 16 characters/,
      ],
      [["--strategy", "random"], {}, /Invalid value "random" for "--strategy"/],
      [[], { QWEN_SERVE_PORT: "80000" }, /Invalid value "80000" for "QWEN_SERVE_PORT"/],
      [["--model-map", "a=b*"], {}, /Invalid value "a=b\*" for "--model-map"/],
      [["--env-file", badFile], {}, /Cannot read the env file ".*bad\.env": line 2/],
      [[], { QWEN_SERVE_ENV_FILE: badValue }, /Invalid value "soon" for "QWEN_SERVE_GRACE"/],
      [["--account", "../x"], {}, /Invalid value "\.\.\/x" for "--account"/],
      [["--frob"], {}, /Unknown flag "--frob" for "qwen serve"/],
    ];
    for (const [flags, env, message] of cases) {
      const r = await runInProcess(["serve", "--check", ...flags], { home, env });
      assert.equal(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, message);
      assert.equal(r.stderr.split("\n").length, 2, "one line");
    }
  });

  it("exits 1 when QWEN_HOME cannot be listed", async () => {
    const home = homes.next();
    await symlink(home, home); // a loop: listing it fails with ELOOP
    const r = await runInProcess(["serve", "--check"], { home });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, new RegExp(`^error: Cannot list the accounts in "${home}": ELOOP`));
  });

  it("is documented in qwen serve --help", async () => {
    const r = await runInProcess(["serve", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--check +Read the configuration and the accounts as serving would/);
    assert.match(r.stdout, /--check reads all of the above/);
  });

  it("runs in the compiled binary: exit 0 with the line, 2 on a bad configuration", async () => {
    const binary = compiledBinary();
    const home = await homes.fresh();
    const envFile = join(home, "serve.env");
    await writeFile(envFile, `QWEN_SERVE_PORT=${heldPort}\nOPENROUTER_API_KEY=${KEY}\n`);
    const ok = await runCli(["serve", "--check", "--env-file", envFile], {
      binary,
      env: { QWEN_HOME: home },
    });
    assert.equal(ok.stderr, "");
    assert.equal(ok.code, 0);
    assert.equal(
      ok.stdout,
      `qwen serve would listen on http://127.0.0.1:${heldPort}/v1 with 1 account ` +
        "(round-robin): env-openrouter\n",
    );
    const bad = await runCli(["serve", "--check", "--env-file", envFile, "--host", "0.0.0.0"], {
      binary,
      env: { QWEN_HOME: home },
    });
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, "");
    assert.match(bad.stderr, /^error: Refusing to listen on "0\.0\.0\.0" without an API key/);
  });
});
