/** Version order as Semantic Versioning 2.0.0 §11 states it, with its own example chain. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compareVersions, normalizeVersion } from "../../src/commands/upgrade/semver.ts";

describe("compareVersions", () => {
  it("orders the specification's example chain", () => {
    const chain = [
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
      "1.0.1",
      "1.1.0",
      "1.10.0",
      "2.0.0",
    ];
    for (let i = 0; i < chain.length; i++) {
      for (let j = 0; j < chain.length; j++) {
        assert.equal(Math.sign(compareVersions(chain[i], chain[j])), Math.sign(i - j));
      }
    }
  });

  it("ignores build metadata and a leading v", () => {
    assert.equal(compareVersions("v1.2.3", "1.2.3+build.5"), 0);
  });

  it("normalizes versions and rejects what is not one", () => {
    assert.equal(normalizeVersion(" v0.2.0\n"), "0.2.0");
    assert.equal(normalizeVersion("0.2.0-rc.1"), "0.2.0-rc.1");
    for (const bad of ["0.2", "latest", "1.2.3.4", "", "<html>"]) {
      assert.equal(normalizeVersion(bad), undefined, bad);
    }
  });
});
