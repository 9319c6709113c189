import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { readHiddenLine } from "../../src/terminal/hidden-prompt.ts";

function io() {
  const written: string[] = [];
  const raw: boolean[] = [];
  const input = new PassThrough();
  return {
    written,
    raw,
    input,
    options: {
      write: (t: string) => void written.push(t),
      setRawMode: (on: boolean) => void raw.push(on),
      input,
    },
  };
}

describe("hidden prompt", () => {
  it("reads a line in raw mode and echoes nothing of it", async () => {
    const t = io();
    const line = readHiddenLine("Key: ", t.options);
    t.input.write("sk-ab");
    t.input.write("cx\x7fd\x1b[Def\r");
    assert.equal(await line, "sk-abcdef");
    assert.deepEqual(t.raw, [true, false]);
    assert.deepEqual(t.written, ["Key: ", "\n"]);
  });

  it("cancels on Ctrl+C and ends empty on Ctrl+D", async () => {
    const a = io();
    const cancelled = readHiddenLine("Key: ", a.options);
    a.input.write("sk-\x03");
    await assert.rejects(cancelled, (e: Error & { exitCode?: number }) => e.exitCode === 130);
    assert.deepEqual(a.raw, [true, false]);
    const b = io();
    const empty = readHiddenLine("Key: ", b.options);
    b.input.write("\x04");
    assert.equal(await empty, "");
  });
});
