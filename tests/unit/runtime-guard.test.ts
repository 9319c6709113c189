import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { sourceFiles } from "../helpers/source-files.ts";

describe("runtime neutrality", () => {
  it("keeps Deno.* and Bun.* inside src/runtime/", async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles("src")) {
      if (file.startsWith(join("src", "runtime"))) continue;
      const lines = (await readFile(file, "utf8")).split("\n");
      lines.forEach((line, i) => {
        if (/\b(Deno|Bun)\.[a-zA-Z]/.test(line) && !/^\s*(\/\/|\*)/.test(line)) {
          offenders.push(`${file}:${i + 1}`);
        }
      });
    }
    assert.deepEqual(offenders, []);
  });
});
