/**
 * The one-entry tar reader of `qwen upgrade`, on archives made by the system's `tar` (GNU tar's
 * ustar, pax and gnu formats), fed in chunks of every size so that headers and data straddle
 * chunk boundaries as they do in a download.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { extractTarEntry } from "../../src/commands/upgrade/tar.ts";
import { tempHome } from "../helpers/run-cli.ts";

const hasTar = spawnSync("tar", ["--version"]).status === 0;

/** The bytes as a stream of chunks of `size` bytes (the last one shorter). */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

async function extract(tar: Uint8Array, name: string, chunkSize = 4096) {
  const parts: Uint8Array[] = [];
  const found = await extractTarEntry(chunked(tar, chunkSize), name, (chunk) => {
    parts.push(chunk.slice());
    return Promise.resolve();
  });
  return { found, data: Buffer.concat(parts) };
}

describe("extractTarEntry", { skip: hasTar ? false : "no tar program here" }, () => {
  let root: { home: string; cleanup: () => Promise<void> };
  const binary = randomBytes(70_000);
  before(async () => {
    root = await tempHome();
  });
  after(async () => {
    await root.cleanup();
  });

  /** A tar of `files` made by `tar` with the given extra arguments. */
  async function makeTar(
    name: string,
    files: Record<string, Uint8Array | string>,
    args: string[] = [],
    members?: string[],
  ): Promise<Uint8Array> {
    const dir = join(root.home, name);
    await mkdir(dir, { recursive: true });
    for (const [file, content] of Object.entries(files)) {
      await mkdir(join(dir, file, ".."), { recursive: true });
      await writeFile(join(dir, file), content);
    }
    const out = join(root.home, `${name}.tar`);
    const r = spawnSync(
      "tar",
      [...args, "-cf", out, "-C", dir, ...(members ?? Object.keys(files))],
      {
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 0, r.stderr);
    return new Uint8Array(await readFile(out));
  }

  it("takes out the one entry, whatever the chunk size", async () => {
    const tar = await makeTar("plain", { qwen: binary }, ["--format=ustar"]);
    for (const size of [1, 7, 511, 512, 513, 4096, 100_000]) {
      const { found, data } = await extract(tar, "qwen", size);
      assert.ok(found, `chunks of ${size}`);
      assert.ok(data.equals(binary), `chunks of ${size}`);
    }
  });

  it("reads pax and GNU headers, a ./ prefix and other entries around it", async () => {
    // Its last part alone is past the 100 bytes of a ustar name: pax or GNU headers carry it.
    const long = `${"d".repeat(120)}/${"e".repeat(110)}`;
    const pax = await makeTar("pax", { "a.txt": "first", qwen: binary, [long]: "deep" }, [
      "--format=pax",
    ]);
    assert.ok(Buffer.from(pax).includes(` path=${long}\n`));
    assert.ok((await extract(pax, "qwen", 1000)).data.equals(binary));
    assert.equal((await extract(pax, long, 333)).data.toString(), "deep");
    const gnu = await makeTar("gnu", { [long]: "deep", qwen: binary }, ["--format=gnu"]);
    assert.ok(Buffer.from(gnu).includes("././@LongLink"));
    assert.equal((await extract(gnu, long, 777)).data.toString(), "deep");
    assert.ok((await extract(gnu, "qwen")).data.equals(binary));
    const dotted = await makeTar("dotted", { qwen: binary }, [], ["."]);
    assert.ok((await extract(dotted, "qwen")).data.equals(binary));
  });

  it("says when the entry is not there", async () => {
    const tar = await makeTar("other", { "qwen-proxy": "x" });
    assert.deepEqual(await extract(tar, "qwen"), { found: false, data: Buffer.alloc(0) });
  });

  it("refuses what is not a tar archive, and one cut short", async () => {
    await assert.rejects(
      extract(new TextEncoder().encode("<html>Not Found</html>".repeat(40)), "qwen"),
      /Cannot read the release archive: not a tar archive \(a header's checksum does not match\)/,
    );
    const tar = await makeTar("cut", { qwen: binary });
    await assert.rejects(
      extract(tar.subarray(0, 2048), "qwen"),
      /not a tar archive \(it ends in the middle of an entry\)/,
    );
  });
});
