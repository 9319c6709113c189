/** The release layout shared by the build, the install script and `qwen upgrade`. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  archiveFile,
  binaryFile,
  RELEASE_PLATFORMS,
  releaseFileUrl,
  RELEASES_URL,
  REPOSITORY_URL,
} from "../../src/lib/release.ts";

describe("the release layout", () => {
  it("derives the addresses from package.json's repository", () => {
    assert.equal(REPOSITORY_URL, "https://github.com/qwen-serve/qwen");
    assert.equal(RELEASES_URL, "https://github.com/qwen-serve/qwen/releases");
  });

  it("names every platform's binary and archive as the contract says", () => {
    assert.deepEqual(RELEASE_PLATFORMS.map((p) => [binaryFile(p), archiveFile(p)]), [
      ["qwen-bun-linux-x64", "qwen-bun-linux-x64.tar.gz"],
      ["qwen-bun-linux-arm64", "qwen-bun-linux-arm64.tar.gz"],
      ["qwen-bun-darwin-x64", "qwen-bun-darwin-x64.tar.gz"],
      ["qwen-bun-darwin-arm64", "qwen-bun-darwin-arm64.tar.gz"],
      ["qwen-bun-windows-x64.exe", "qwen-bun-windows-x64.zip"],
    ]);
    assert.equal(binaryFile("linux-arm64", "deno"), "qwen-deno-linux-arm64");
    assert.equal(archiveFile("windows-x64", "deno"), "qwen-deno-windows-x64.zip");
  });

  it("lays files out as GitHub does: latest/download and download/v<X>", () => {
    assert.equal(
      releaseFileUrl(RELEASES_URL, "SHA256SUMS"),
      "https://github.com/qwen-serve/qwen/releases/latest/download/SHA256SUMS",
    );
    assert.equal(
      releaseFileUrl("http://127.0.0.1:8000/mirror/", "VERSION", "0.2.0"),
      "http://127.0.0.1:8000/mirror/download/v0.2.0/VERSION",
    );
    assert.equal(
      releaseFileUrl("http://127.0.0.1:8000", "VERSION", "v0.2.0"),
      "http://127.0.0.1:8000/download/v0.2.0/VERSION",
    );
  });
});
