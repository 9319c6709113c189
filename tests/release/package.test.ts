/**
 * Packaging a folder of binaries into a release (scripts/release/files.ts), as `npm run build`
 * does in dist/ and the release workflow does with the binaries that passed: the archives,
 * VERSION, install.sh with the address filled in, and SHA256SUMS as `sha256sum -c` reads it.
 */
import { after, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RELEASES_URL } from "../../src/lib/release.ts";
import {
  allBinaries,
  checkedReleaseFiles,
  packageRelease,
  releaseFiles,
} from "../../scripts/release/files.ts";

const INSTALL_FIXTURE = '#!/bin/sh\nBASE="${QWEN_DOWNLOAD_URL:-@RELEASES_URL@}"\necho "$BASE"\n';

describe("packaging a release", () => {
  const dirs: string[] = [];
  let dir: string;
  let installScript: string;

  beforeEach(async () => {
    const root = await mkdtemp(join(tmpdir(), "qwen-package-"));
    dirs.push(root);
    dir = join(root, "dist");
    await mkdir(dir);
    installScript = join(root, "install.sh");
    await writeFile(installScript, INSTALL_FIXTURE);
  });
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const options = () => ({ dir, version: "1.2.3", installScript, releasesUrl: RELEASES_URL });
  const fakeBinary = (file: string) => writeFile(join(dir, file), randomBytes(4096));

  it("writes every release file for the binaries there, and nothing else", async () => {
    const binaries = allBinaries().filter((b) => b.compiler === "bun");
    for (const b of binaries) await fakeBinary(b.file);
    await writeFile(join(dir, "qwen"), "the host's binary, not a release file");

    const files = await packageRelease(options());
    assert.deepEqual(files, releaseFiles(binaries));
    assert.deepEqual((await readdir(dir)).sort(), [...files, "qwen"].sort());
    assert.equal(await readFile(join(dir, "VERSION"), "utf8"), "1.2.3\n");
    for (const b of binaries) assert.equal((await stat(join(dir, b.file))).mode & 0o111, 0o111);

    // The checksums cover exactly the other release files, and sha256sum agrees with them.
    const sums = await readFile(join(dir, "SHA256SUMS"), "utf8");
    assert.deepEqual(
      sums.trimEnd().split("\n").map((line) => line.split("  ")[1]),
      files.filter((f) => f !== "SHA256SUMS").sort(),
    );
    const check = spawnSync("sha256sum", ["--check", "--strict", "SHA256SUMS"], {
      cwd: dir,
      encoding: "utf8",
    });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.deepEqual((await checkedReleaseFiles(dir)).sort(), [...files].sort());
  });

  it("fills the releases' address into install.sh, executable", async () => {
    await fakeBinary("qwen-bun-linux-x64");
    await packageRelease(options());
    const script = await readFile(join(dir, "install.sh"), "utf8");
    assert.equal(script, INSTALL_FIXTURE.replace("@RELEASES_URL@", RELEASES_URL));
    assert.doesNotMatch(script, /@RELEASES_URL@/);
    assert.equal((await stat(join(dir, "install.sh"))).mode & 0o777, 0o755);
  });

  it("packages Deno's binaries beside Bun's, and drops archives whose binary is gone", async () => {
    await fakeBinary("qwen-bun-linux-x64");
    await fakeBinary("qwen-deno-windows-x64.exe");
    await writeFile(join(dir, "qwen-bun-darwin-arm64.tar.gz"), "stale, from an earlier build");
    const files = await packageRelease(options());
    assert.deepEqual(files, [
      "qwen-bun-linux-x64",
      "qwen-bun-linux-x64.tar.gz",
      "qwen-deno-windows-x64.exe",
      "qwen-deno-windows-x64.zip",
      "VERSION",
      "install.sh",
      "SHA256SUMS",
    ]);
    assert.deepEqual((await readdir(dir)).sort(), [...files].sort());
  });

  it("says so when the install script is missing, and writes nothing", async () => {
    await fakeBinary("qwen-bun-linux-x64");
    await rm(installScript);
    await assert.rejects(
      packageRelease(options()),
      /^Error: Cannot write install\.sh: ".*install\.sh" does not exist; a release needs the install script$/,
    );
    assert.deepEqual(await readdir(dir), ["qwen-bun-linux-x64"]);
  });

  it("refuses an install script without the placeholder", async () => {
    await fakeBinary("qwen-bun-linux-x64");
    await writeFile(installScript, '#!/bin/sh\nBASE="https://example.invalid"\n');
    await assert.rejects(packageRelease(options()), /has no "@RELEASES_URL@"/);
  });

  it("refuses a folder without any binary", async () => {
    await assert.rejects(packageRelease(options()), /holds no binary/);
  });

  it("will not publish a file changed after packaging, or a release file left out", async () => {
    await fakeBinary("qwen-bun-linux-x64");
    await packageRelease(options());
    await writeFile(join(dir, "qwen-bun-darwin-x64"), "appeared later");
    await assert.rejects(checkedReleaseFiles(dir), /"qwen-bun-darwin-x64" is not in SHA256SUMS/);
    await rm(join(dir, "qwen-bun-darwin-x64"));
    await writeFile(join(dir, "VERSION"), "9.9.9\n");
    await assert.rejects(checkedReleaseFiles(dir), /VERSION": its SHA-256 is not the one listed/);
    await rm(join(dir, "VERSION"));
    await assert.rejects(checkedReleaseFiles(dir), /VERSION": listed in SHA256SUMS but missing/);
  });
});
