import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileIdentity } from "../../src/credentials/private-file.ts";
import { tempHome } from "../helpers/run-cli.ts";

describe("fileIdentity", () => {
  const made = tempHome();
  after(async () => (await made).cleanup());

  it("is the same on Bun and Deno: whole milliseconds of mtime", async () => {
    const path = join((await made).home, "creds.json");
    await writeFile(path, "{}\n");
    // 123.4 ms past the second: Bun's mtimeMs keeps the fraction, Deno's does not.
    await utimes(path, 1_700_000_000, 1_700_000_000.1234);
    const { ino } = await stat(path);
    assert.equal(await fileIdentity(path), `${ino}:1700000000123:3`);
  });

  it("changes when the file is rewritten with the same size", async () => {
    const path = join((await made).home, "key.json");
    await writeFile(path, "{}\n");
    await utimes(path, 1_700_000_000, 1_700_000_000);
    const before = await fileIdentity(path);
    await writeFile(path, "[]\n");
    await utimes(path, 1_700_000_001, 1_700_000_001);
    assert.notEqual(await fileIdentity(path), before);
  });

  it("is undefined for a missing file", async () => {
    assert.equal(await fileIdentity(join((await made).home, "none.json")), undefined);
  });
});
