/**
 * What `qwen status` and `qwen serve` do with a QWEN_HOME that is shared, linked or cannot be
 * written (issue 17, items 11, 12 and 15): read-only commands change no mode, a folder others
 * can write to is named once, and a state write that keeps failing is logged once.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, rmdir, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { STATE_FILE } from "../../src/pool/state-file.ts";
import { type RunningFakeUpstream, startFakeUpstream } from "../helpers/fake-upstream.ts";
import { runInProcess } from "../helpers/fake-context.ts";
import { type RunningServe, startServe, stopServe } from "../helpers/serve-process.ts";
import { storeKeyFile, type TempHomes, tempHomes } from "../helpers/temp-homes.ts";
import { waitFor } from "../helpers/wait-for.ts";

const KEY = "sk-homefiles000000000cccc";
const HELLO = { model: "coder-model", messages: [{ role: "user", content: "hi" }] };
/** serve.ts: the accounts and the state file are looked after this often. */
const MAINTAIN_INTERVAL_MS = 2_000;

const credentials = () =>
  JSON.stringify({
    access_token: "access-secret-value",
    refresh_token: "refresh-secret-value",
    token_type: "Bearer",
    resource_url: "portal.qwen.ai",
    expiry_date: Date.now() + 3_600_000,
  });

const count = (text: string, pattern: RegExp) =>
  text.split("\n").filter((l) => pattern.test(l)).length;

let homes: TempHomes;
before(async () => {
  homes = await tempHomes();
});
after(async () => {
  await homes.cleanup();
});

describe("qwen status and the files of QWEN_HOME", () => {
  const status = (home: string, args: string[] = []) =>
    runInProcess(["status", ...args], { home, env: { QWEN_OAUTH_BASE_URL: "http://127.0.0.1:9" } });

  it("follows a symlinked credentials file without changing its target's mode", async () => {
    const home = await homes.fresh();
    const target = join(await homes.fresh(), "creds.json");
    await writeFile(target, credentials());
    await chmod(target, 0o644);
    await symlink(target, join(home, "oauth_creds.json"));
    const r = await status(home);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await stat(target)).mode & 0o777, 0o644);
  });

  it("says once on stderr that others can write to the home, and keeps stdout JSON", async () => {
    const home = await homes.fresh();
    await writeFile(join(home, "oauth_creds.json"), credentials(), { mode: 0o600 });
    await chmod(home, 0o777);
    const r = await status(home, ["--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).usable, true);
    assert.equal(count(r.stderr, /can be written by other users/), 1, r.stderr);
    assert.ok(r.stderr.includes(`"${home}"`), r.stderr);
    assert.equal((await stat(home)).mode & 0o7777, 0o777, "the mode is left as it was");

    await chmod(home, 0o1777);
    const sticky = await status(home, ["--json"]);
    assert.equal(sticky.stderr, "", "the sticky bit keeps others from replacing our files");
  });
});

describe("qwen serve and a state file it cannot write", () => {
  let provider: RunningFakeUpstream;
  before(async () => {
    provider = await startFakeUpstream();
  });
  after(async () => {
    await provider.close();
  });

  it("logs the failure once, not at every upkeep, and says when it is over", {
    timeout: 30_000,
  }, async () => {
    const home = await homes.fresh();
    await storeKeyFile(home, "work", KEY, provider.baseUrl);
    const blocked = join(home, STATE_FILE);
    await mkdir(blocked); // A directory in its place: every write fails, the same way.
    await chmod(home, 0o777);
    let serve: RunningServe | undefined;
    try {
      serve = await startServe([], {
        QWEN_HOME: home,
        QWEN_OAUTH_BASE_URL: "http://127.0.0.1:9",
      });
      const answered = await fetch(`${serve.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(HELLO),
      });
      assert.equal(answered.status, 200);
      await answered.body?.cancel();
      const failure = /cannot update the account state/;
      await waitFor(() => failure.test(serve!.stderr()), {
        what: "the failed state write in the log",
        timeoutMs: 3 * MAINTAIN_INTERVAL_MS,
        intervalMs: 50,
      });
      // Two more rounds of upkeep that fail the same way.
      await new Promise((resolve) => setTimeout(resolve, 2 * MAINTAIN_INTERVAL_MS + 500));
      assert.equal(count(serve.stderr(), failure), 1, serve.stderr());
      assert.ok(serve.stderr().includes(blocked), serve.stderr());

      await rmdir(blocked);
      await waitFor(() => /account state is up to date again/.test(serve!.stderr()), {
        what: "the recovery in the log",
        timeoutMs: 3 * MAINTAIN_INTERVAL_MS,
        intervalMs: 50,
      });
      assert.ok((await stat(blocked)).isFile(), "the counts reached the file");
      assert.equal(count(serve.stderr(), /can be written by other users/), 1, serve.stderr());
    } finally {
      await stopServe(serve);
    }
  });
});
