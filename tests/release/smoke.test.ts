/**
 * The release smoke test (scripts/release/smoke.ts) passes our compiled binary and fails
 * binaries that print the wrong thing, do not serve, or serve without their accounts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERSION } from "../../src/lib/version.ts";
import { smokeTest } from "../../scripts/release/smoke.ts";
import { compiledBinary } from "../helpers/compiled-binary.ts";

describe("the release smoke test", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "qwen-smoke-test-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function script(name: string, body: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  }

  it("passes the compiled binary", async () => {
    assert.deepEqual(await smokeTest(compiledBinary(), VERSION), []);
  });

  it("fails a binary that prints another version and cannot serve", async () => {
    const fake = await script(
      "other-qwen",
      'case "$1" in --version) echo 9.9.9;; version) echo "qwen 9.9.9";; *) echo "no serve" >&2; exit 1;; esac',
    );
    const problems = await smokeTest(fake, VERSION);
    assert.equal(problems.length, 6, problems.join("\n"));
    assert.match(problems[0], /^"--version" printed "9\.9\.9\\n" \(exit 0\), expected "/);
    assert.match(problems[1], /^"version --verbose" has no version line/);
    assert.match(problems[5], /^"serve" exited 1 before listening: no serve$/);
  });

  it("fails a binary whose serve has no account to offer (/health 503)", async () => {
    // Our binary, but the key variable the smoke test sets never reaches it.
    const fake = await script(
      "no-accounts",
      `unset DASHSCOPE_API_KEY\nexec "${compiledBinary()}" "$@"`,
    );
    const problems = await smokeTest(fake, VERSION);
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0], /^"\/health" answered 503 .*no credentials/);
  });
});
