import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  envHelp,
  envNames,
  flagsHelp,
  type FlagTable,
  HELP_FLAG,
  parseArgsOptions,
  parseFlags,
} from "../../src/cli/flags.ts";
import { UsageError } from "../../src/lib/errors.ts";

const TABLE = [
  { name: "port", short: "p", value: "PORT", env: "X_PORT", help: "Port" },
  {
    name: "key",
    multiple: true,
    value: "KEY",
    env: "X_KEYS",
    default: "none",
    help: "A key",
  },
  { name: "format", choices: ["text", "json"], help: "Output" },
  { name: "qr", type: "boolean", negatable: true, help: "Show the QR code" },
  { name: "browser", type: "boolean", negatable: "only", help: "Do not open the browser" },
  HELP_FLAG,
] as const satisfies FlagTable;

describe("flag tables", () => {
  it("give parseArgs only the keys it accepts", () => {
    assert.deepEqual(parseArgsOptions(TABLE), {
      port: { type: "string", short: "p" },
      key: { type: "string", multiple: true },
      format: { type: "string" },
      qr: { type: "boolean" },
      browser: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
  });

  it("parse to typed values, negations included", () => {
    const values = parseFlags("x", ["-p", "1", "--key", "a", "--key=b", "--no-qr"], TABLE);
    assert.deepEqual({ ...values }, { port: "1", key: ["a", "b"], qr: false });
    assert.equal(parseFlags("x", ["--no-browser"], TABLE).browser, false);
  });

  it("turn parse errors into usage errors that name the flag and the command", () => {
    for (
      const [argv, message] of [
        [["--frob"], 'Unknown flag "--frob" for "x": run "x --help" for usage'],
        [["extra"], 'Unexpected argument "extra" for "x": run "x --help" for usage'],
        [["--port"], 'Invalid value for flag "--port" of "x": run "x --help" for usage'],
      ]
    ) {
      assert.throws(() => parseFlags("x", argv as string[], TABLE), (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.equal(error.message, message);
        return true;
      });
    }
  });

  it("print the flags in aligned columns with defaults, repeatable ones and negations", () => {
    assert.equal(
      flagsHelp(TABLE),
      [
        "  -p, --port PORT         Port",
        "      --key KEY           A key (default: none); repeatable",
        "      --format text|json  Output",
        "      --qr, --no-qr       Show the QR code",
        "      --no-browser        Do not open the browser",
        "  -h, --help              Show this help",
      ].join("\n"),
    );
  });

  it("wrap the help within 100 columns and keep its line breaks", () => {
    const long = "word ".repeat(40).trim();
    const text = flagsHelp([{ name: "a", type: "boolean", help: `first\n${long}` }]);
    const lines = text.split("\n");
    assert.equal(lines[0], "      --a  first");
    assert.ok(lines.length > 2);
    for (const line of lines) {
      assert.ok(line.length <= 100, line);
      if (line !== lines[0]) assert.match(line, /^ {11}word/);
    }
  });

  it("map flags to their variables, and list them for the help", () => {
    assert.deepEqual(envNames(TABLE), { port: "X_PORT", key: "X_KEYS" });
    assert.equal(
      envHelp(TABLE, [["PORT", "--port, when X_PORT is not set"]]),
      "  X_PORT   --port\n  X_KEYS   --key\n  PORT     --port, when X_PORT is not set",
    );
  });
});
