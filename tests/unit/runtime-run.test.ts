/**
 * The runtime's `run` and `executable`, on whichever runtime runs the tests: a program is looked
 * up on the PATH it is given, its output and exit code come back, one that cannot start is 127,
 * and aborting ends it.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { runtime } from "../../src/runtime/mod.ts";
import { type FakePrograms, fakePrograms } from "../helpers/fake-programs.ts";

describe("runtime.run", () => {
  let programs: FakePrograms | undefined;
  after(async () => {
    await programs?.cleanup();
  });

  it("finds the program on the given PATH and returns its output and exit code", async () => {
    programs = await fakePrograms({ greet: 'echo "hello $1"; echo "to stderr" >&2; exit 3' });
    const r = await runtime.run("greet", ["a b"], { env: { PATH: programs.path } });
    assert.deepEqual(r, { code: 3, stdout: "hello a b\n", stderr: "to stderr\n" });
    assert.deepEqual(await programs.callsOf("greet"), ["a b"]);
  });

  it("gives the program only the environment it is given", async () => {
    const r = await runtime.run("sh", ["-c", 'printf "%s|%s" "$ONLY" "${HOME:-none}"'], {
      env: { PATH: process.env.PATH, ONLY: "this" },
    });
    assert.equal(r.stdout, "this|none");
  });

  it("answers 127 for a program that is not there", async () => {
    const r = await runtime.run("qwen-no-such-program", [], { env: { PATH: "/nonexistent" } });
    assert.equal(r.code, 127);
    assert.match(r.stderr, /Cannot run "qwen-no-such-program": not found/);
  });

  it("hands output over as it comes, and ends the program when aborted", async () => {
    const seen: string[] = [];
    const controller = new AbortController();
    const started = Date.now();
    const r = await runtime.run("sh", ["-c", "echo first; exec sleep 30"], {
      env: { PATH: process.env.PATH },
      signal: controller.signal,
      onOutput: (fd, text) => {
        seen.push(`${fd}:${text}`);
        controller.abort();
      },
    });
    assert.deepEqual(seen, ["1:first\n"]);
    assert.equal(r.code, 143);
    assert.equal(r.stdout, "");
    assert.ok(Date.now() - started < 10_000);
  });

  it("knows the tests run from source", () => {
    const executable = runtime.executable();
    assert.equal(executable.compiled, false);
    assert.equal(executable.path, process.execPath);
    assert.equal(executable.runtime, "Deno" in globalThis ? "deno" : "bun");
  });
});
