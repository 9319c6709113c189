/** scripts/release.ts's own checks, as the release workflow runs them, and CHANGELOG.md. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { VERSION } from "../../src/lib/version.ts";
import { changelogEntry } from "../../scripts/release/changelog.ts";

function release(...args: string[]) {
  return spawnSync("node_modules/.bin/bun", ["scripts/release.ts", ...args], { encoding: "utf8" });
}

describe("scripts/release.ts", () => {
  it("accepts only the tag of package.json's version", () => {
    assert.equal(release("check-tag", `v${VERSION}`).status, 0);
    for (const tag of [VERSION, `v${VERSION}.1`, "v9.9.9"]) {
      const r = release("check-tag", tag);
      assert.equal(r.status, 1, tag);
      assert.equal(
        r.stderr,
        `Cannot release tag "${tag}": package.json's version is "${VERSION}", so the tag must be "v${VERSION}"\n`,
      );
    }
  });

  it("prints this version's CHANGELOG.md entry as the release notes", async () => {
    const r = release("notes");
    assert.equal(r.status, 0, r.stderr);
    const changelog = await readFile("CHANGELOG.md", "utf8");
    assert.match(
      changelog,
      new RegExp(`^## \\[${VERSION.replaceAll(".", "\\.")}\\] - \\d{4}-\\d{2}-\\d{2}$`, "m"),
    );
    assert.equal(r.stdout, changelogEntry(changelog, VERSION));
    assert.match(r.stdout, /qwen serve/);
  });

  it("names an unknown command", () => {
    const r = release("publish");
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^Unknown command "publish": check-tag, smoke, smoke-host, notes or files/,
    );
  });
});

describe("changelogEntry", () => {
  const text = [
    "# Changelog",
    "",
    "## [Unreleased]",
    "",
    "- next",
    "",
    "## [1.10.0] - 2027-01-02",
    "",
    "### Added",
    "",
    "- ten",
    "",
    "## 1.1.0",
    "",
    "- one",
    "",
    "## [1.0.0] - 2026-01-01",
    "",
  ].join("\n");

  it("takes the text under the version's heading, up to the next", () => {
    assert.equal(changelogEntry(text, "1.10.0"), "### Added\n\n- ten\n");
    assert.equal(changelogEntry(text, "1.1.0"), "- one\n");
  });

  it("finds no entry for a version without one, or an empty one", () => {
    assert.equal(changelogEntry(text, "1.1"), undefined);
    assert.equal(changelogEntry(text, "2.0.0"), undefined);
    assert.equal(changelogEntry(text, "1.0.0"), undefined);
  });
});
