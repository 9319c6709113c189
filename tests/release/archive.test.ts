/**
 * The release archives, read back by the system's own tools as a user's machine would: `tar -xzf`
 * and `unzip` each find one entry, executable, byte for byte the binary.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, tarGz, zip } from "../../scripts/release/archive.ts";

function tool(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8" });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stderr}${r.error ?? ""}`);
  return r.stdout;
}

describe("release archives", () => {
  let dir: string;
  // Not a multiple of 512, with every byte value, and larger than one deflate block.
  const binary = new Uint8Array(randomBytes(300_001));
  const mtime = Date.UTC(2026, 11, 6, 12, 34, 56) / 1000;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "qwen-archive-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a .tar.gz holds one entry, qwen, executable and identical", async () => {
    const file = join(dir, "qwen-bun-linux-x64.tar.gz");
    await writeFile(file, tarGz({ name: "qwen", data: binary, mtime }));
    assert.equal(tool("tar", ["-tzf", file], dir), "qwen\n");
    const out = join(dir, "tar-out");
    await mkdir(out);
    tool("tar", ["-xzf", file], out);
    assert.deepEqual(await readdir(out), ["qwen"]);
    const info = await stat(join(out, "qwen"));
    assert.equal(info.mode & 0o777, 0o755);
    assert.equal(Math.round(info.mtimeMs / 1000), mtime);
    assert.deepEqual(new Uint8Array(await readFile(join(out, "qwen"))), binary);
    tool("gzip", ["-t", file], dir);
  });

  it("a .zip holds one entry, qwen.exe, executable and identical", async () => {
    const file = join(dir, "qwen-bun-windows-x64.zip");
    await writeFile(file, zip({ name: "qwen.exe", data: binary, mtime }));
    assert.equal(tool("unzip", ["-Z1", file], dir), "qwen.exe\n");
    tool("unzip", ["-tq", file], dir); // checks the CRC
    const out = join(dir, "zip-out");
    await mkdir(out);
    tool("unzip", ["-q", file, "-d", out], dir);
    assert.deepEqual(await readdir(out), ["qwen.exe"]);
    assert.equal((await stat(join(out, "qwen.exe"))).mode & 0o777, 0o755);
    assert.deepEqual(new Uint8Array(await readFile(join(out, "qwen.exe"))), binary);
  });

  it("an empty file archives too", async () => {
    const file = join(dir, "empty.tar.gz");
    await writeFile(file, tarGz({ name: "qwen", data: new Uint8Array(0), mtime }));
    assert.equal(tool("tar", ["-tzvf", file], dir).split(/\s+/)[2], "0");
    const zipped = join(dir, "empty.zip");
    await writeFile(zipped, zip({ name: "qwen.exe", data: new Uint8Array(0), mtime }));
    tool("unzip", ["-tq", zipped], dir);
  });

  it("refuses an entry name with a folder in it", () => {
    assert.throws(() => tarGz({ name: "../qwen", data: binary, mtime }), /plain file name/);
    assert.throws(() => zip({ name: "bin/qwen.exe", data: binary, mtime }), /plain file name/);
  });

  it("computes CRC-32 as zip and gzip do", () => {
    assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926); // the check value
    assert.equal(crc32(new Uint8Array(0)), 0);
  });
});
