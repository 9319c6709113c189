import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...await sourceFiles(path));
    else if (path.endsWith(".ts")) out.push(path);
  }
  return out;
}

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
