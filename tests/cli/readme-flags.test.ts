import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { type Flag, synopsis } from "../../src/cli/flags.ts";
import { SERVE_FLAGS } from "../../src/cli/serve-config.ts";

interface Row {
  /** What the flag cell shows between its backticks, e.g. "-p, --port PORT". */
  shown: string;
  repeatable: boolean;
  environment: string;
}

/** Cells of a Markdown table row; `\|` is a "|" inside a cell. */
function cells(line: string): string[] {
  return line.trim().replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/)
    .map((cell) => cell.replaceAll("\\|", "|").trim());
}

/** The rows of the README's `qwen serve` table: the one headed flag, environment, default, meaning. */
async function readmeServeFlags(): Promise<Row[]> {
  const lines = (await readFile("README.md", "utf8")).split("\n");
  const header = lines.findIndex((line) =>
    line.trim().startsWith("|") &&
    cells(line).map((c) => c.toLowerCase()).join(",") === "flag,environment,default,meaning"
  );
  assert.notEqual(
    header,
    -1,
    "README.md has no table headed | flag | environment | default | meaning |",
  );
  const rows: Row[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.trim().startsWith("|")) break;
    const [flag, environment] = cells(line);
    const match = /^`([^`]+)`\s*(\(repeatable\))?$/.exec(flag);
    assert.ok(match, `README.md: cannot read the flag cell "${flag}"`);
    rows.push({ shown: match[1], repeatable: match[2] !== undefined, environment });
  }
  return rows;
}

// --check and --help change what the command does, not how it serves: the README tells them apart.
const FLAGS: readonly Flag[] = SERVE_FLAGS.filter((flag) => !["help", "check"].includes(flag.name));

/** `--name`, with `-s` before it when the flag has a short form. */
const names = (shown: string) => shown.split(" ").filter((word) => word.startsWith("-")).join(" ");

describe("README: the qwen serve flag table", () => {
  it("lists the flags of the table, in its order, with their short forms", async () => {
    const rows = await readmeServeFlags();
    assert.deepEqual(rows.map((row) => names(row.shown)), FLAGS.map((f) => names(synopsis(f))));
  });

  it("names each flag's variable", async () => {
    const rows = await readmeServeFlags();
    for (const [i, flag] of FLAGS.entries()) {
      assert.ok(
        rows[i]?.environment.includes(`\`${flag.env}\``),
        `README.md: the row of --${flag.name} does not name \`${flag.env}\``,
      );
    }
  });

  it("shows each flag's value and whether it repeats, as the help does", async () => {
    const rows = await readmeServeFlags();
    assert.deepEqual(
      rows.map((row) => ({ flag: row.shown, repeatable: row.repeatable })),
      FLAGS.map((f) => ({ flag: synopsis(f).trim(), repeatable: f.multiple === true })),
    );
  });
});
