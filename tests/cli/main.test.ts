import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runInProcess } from "../helpers/fake-context.ts";
import { runCli } from "../helpers/run-cli.ts";

// The version and an unknown command go through a real process (main.ts writes the output and
// exits with the code); help and an unknown flag run in process.
describe("qwen (entrypoint)", () => {
  it("prints the bare version", async () => {
    const r = await runCli(["--version"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it("prints help to stdout with --help", async () => {
    const r = await runInProcess(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Commands:[\s\S]*auth[\s\S]*serve[\s\S]*status/);
  });

  it("names an unknown command and exits 2", async () => {
    const r = await runCli(["frobnicate"]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /Unknown command "frobnicate"/);
  });

  it("names an unknown global flag and exits 2", async () => {
    const r = await runInProcess(["--frob"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Unknown flag "--frob"/);
  });
});
