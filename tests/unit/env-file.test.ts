import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EnvFile } from "../../src/cli/env-file.ts";
import { UsageError } from "../../src/lib/errors.ts";
import { tempHome } from "../helpers/run-cli.ts";

describe("--env-file", () => {
  let dir: Awaited<ReturnType<typeof tempHome>>;
  let path: string;
  before(async () => {
    dir = await tempHome();
    path = join(dir.home, "serve.env");
  });
  after(() => dir.cleanup());

  async function read(text: string, env: Record<string, string> = {}) {
    await writeFile(path, text);
    return (await new EnvFile(path).apply(env)).env;
  }

  it("reads KEY=value lines, skipping blank lines and # or ; comments", async () => {
    const env = await read(
      "# settings\n\n; more\nQWEN_SERVE_PORT=9000\r\n  QWEN_SERVE_STRATEGY = fill-first  \nEMPTY=\n",
    );
    assert.deepEqual(env, {
      QWEN_SERVE_PORT: "9000",
      QWEN_SERVE_STRATEGY: "fill-first",
      EMPTY: "",
    });
  });

  it("reads values as systemd's EnvironmentFile= does", async () => {
    const env = await read(
      [
        `SINGLE='a "b" \\n $c'`,
        `DOUBLE="a \\"b\\" \\\\ \\$c \\n"`,
        `JOINED="a" 'b'c`,
        `HASH=sk-abc # not a comment`,
        `ESCAPED=a\\ b\\  `,
        `CONTINUED=one\\`,
        `two`,
        `MULTI="line one`,
        `line two"`,
        `QUOTE_INSIDE=a"b"`,
      ].join("\n"),
    );
    assert.deepEqual(env, {
      SINGLE: 'a "b" \\n $c',
      DOUBLE: 'a "b" \\ $c \\n',
      JOINED: "abc",
      HASH: "sk-abc # not a comment",
      ESCAPED: "a b ",
      CONTINUED: "onetwo",
      MULTI: "line one\nline two",
      QUOTE_INSIDE: 'a"b"',
    });
  });

  it("puts the file over the environment, and unsets what the file no longer names", async () => {
    const file = new EnvFile(path);
    const base = { DASHSCOPE_API_KEY: "sk-from-start", OTHER: "kept" };
    await writeFile(path, "DASHSCOPE_API_KEY=sk-from-file\n");
    assert.deepEqual((await file.apply(base)).env, {
      DASHSCOPE_API_KEY: "sk-from-file",
      OTHER: "kept",
    });
    // Under systemd the environment was read from this file at start: a removed key is gone.
    await writeFile(path, "# no key\n");
    assert.deepEqual((await file.apply(base)).env, { OTHER: "kept" });
  });

  it("reads a missing file as empty, and says it is missing", async () => {
    const result = await new EnvFile(join(dir.home, "none.env")).apply({ A: "1" });
    assert.deepEqual(result, { env: { A: "1" }, missing: true });
  });

  it("names the line of a mistake, never its content", async () => {
    for (
      const [text, message] of [
        ["A=1\nsk-secret-value\n", "line 2: expected KEY=value"],
        ["export KEY=sk-secret-value\n", 'line 1: expected a variable name (letters, digits, "_")'],
        ["A=1\nB='sk-secret-value\n", "line 2: the quote ' is not closed"],
        ['A="sk-secret-value', 'line 1: the quote " is not closed'],
      ]
    ) {
      await writeFile(path, text);
      await assert.rejects(new EnvFile(path).apply({}), (error: Error) => {
        assert.ok(error instanceof UsageError);
        assert.ok(
          error.message.startsWith(`Cannot read the env file "${path}": ${message}`),
          error.message,
        );
        assert.ok(!error.message.includes("sk-secret-value"), error.message);
        return true;
      });
    }
  });

  it("says when the file cannot be read", async () => {
    // A folder where the file should be: unreadable as a file, whoever runs the test.
    await assert.rejects(
      new EnvFile(dir.home).apply({}),
      (error: Error) =>
        error instanceof UsageError &&
        error.message.startsWith(`Cannot read the env file "${dir.home}": `),
    );
  });
});
