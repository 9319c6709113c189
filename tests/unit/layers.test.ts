import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { sourceFiles } from "../helpers/source-files.ts";

/**
 * The layers of src/, top to bottom. A module may import from its own folder or from a folder
 * of a lower layer, never from its own layer's other folders or from above. docs/development.md
 * draws the same picture.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["main.ts"],
  ["cli"],
  ["commands"],
  ["server"],
  ["upstream"],
  ["pool"],
  ["accounts"],
  ["credentials"],
  ["oauth", "terminal"],
  ["lib", "runtime"],
];

function layerOf(path: string): number {
  const top = path.split("/")[0];
  const index = LAYERS.findIndex((folders) => folders.includes(top));
  assert.notEqual(index, -1, `"src/${path}" is in no layer: add its folder to LAYERS`);
  return index;
}

/** Every relative import of every file of src/, as paths below src/. */
async function importsOfSrc(): Promise<{ from: string; to: string }[]> {
  const edges: { from: string; to: string }[] = [];
  for (const file of await sourceFiles("src")) {
    const text = await readFile(file, "utf8");
    const from = relative("src", file).split("\\").join("/");
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      const to = relative("src", join(dirname(file), match[1])).split("\\").join("/");
      // package.json (the version) sits outside src/ and below every layer.
      if (!to.startsWith("../")) edges.push({ from, to });
    }
  }
  return edges;
}

describe("import layers", () => {
  it("imports only from the same folder or a lower layer", async () => {
    const upward: string[] = [];
    for (const { from, to } of await importsOfSrc()) {
      const a = from.split("/")[0];
      const b = to.split("/")[0];
      if (a === b) continue;
      if (layerOf(from) >= layerOf(to)) upward.push(`${from} -> ${to}`);
    }
    assert.deepEqual(upward, []);
  });
});
