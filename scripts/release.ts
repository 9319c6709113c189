/**
 * The steps of .github/workflows/release.yml that are more than one command, here so that they
 * run (and are tested) the same on this machine (docs/releases.md):
 *
 *   bun scripts/release.ts check-tag TAG            TAG is "v" + package.json's version
 *   bun scripts/release.ts smoke PLATFORM FROM TO   smoke-test PLATFORM's binaries in FROM and
 *                                                   copy those that pass to TO; exit 1 if any
 *                                                   failed or none was there
 *   bun scripts/release.ts smoke-host               smoke-test this machine's dist/qwen (CI)
 *   bun scripts/release.ts notes                    this version's CHANGELOG.md entry
 *   bun scripts/release.ts files DIR                the files to publish from a packaged DIR,
 *                                                   one path a line, checked against SHA256SUMS
 */
import { chmod, copyFile, mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import process from "node:process";
import { RELEASE_PLATFORMS, type ReleasePlatform } from "../src/lib/release.ts";
import { VERSION } from "../src/lib/version.ts";
import { allBinaries, checkedReleaseFiles, hostBinary } from "./release/files.ts";
import { smokeTest } from "./release/smoke.ts";
import { changelogEntry } from "./release/changelog.ts";

const ROOT = resolve(import.meta.dirname ?? ".", "..");
const [command, ...args] = process.argv.slice(2);
const fail = (message: string): never => {
  process.stderr.write(`${message}\n`);
  process.exit(1);
};

switch (command) {
  case "check-tag": {
    const [tag] = args;
    if (tag !== `v${VERSION}`) {
      fail(
        `Cannot release tag "${
          tag ?? ""
        }": package.json's version is "${VERSION}", so the tag must be "v${VERSION}"`,
      );
    }
    process.stdout.write(`tag ${tag} matches package.json\n`);
    break;
  }
  case "smoke": {
    const [platform, from, to] = args;
    if (!RELEASE_PLATFORMS.includes(platform as ReleasePlatform) || !from || !to) {
      fail(`Usage: release.ts smoke PLATFORM FROM TO (PLATFORM: ${RELEASE_PLATFORMS.join(", ")})`);
    }
    await mkdir(to, { recursive: true });
    let passed = 0;
    let failed = 0;
    for (const binary of allBinaries().filter((b) => b.platform === platform)) {
      const path = join(from, binary.file);
      try {
        await chmod(path, 0o755); // artifacts lose the mode between jobs
      } catch {
        continue; // not built (Deno's, when its runtime could not be fetched)
      }
      const problems = await smokeTest(path, VERSION);
      if (problems.length === 0) {
        await copyFile(path, join(to, binary.file));
        passed++;
        process.stdout.write(`passed: ${binary.file}\n`);
      } else {
        failed++;
        process.stdout.write(`FAILED: ${binary.file}\n${problems.map((p) => `  ${p}\n`).join("")}`);
      }
    }
    if (passed + failed === 0) fail(`Cannot smoke-test ${platform}: no binary of it in "${from}"`);
    if (failed > 0) fail(`${failed} binary(ies) of ${platform} failed and will not be published`);
    break;
  }
  case "smoke-host": {
    const path = hostBinary(join(ROOT, "dist"));
    const problems = await smokeTest(path, VERSION);
    if (problems.length > 0) fail(`FAILED: ${path}\n${problems.map((p) => `  ${p}`).join("\n")}`);
    process.stdout.write(`passed: ${path}\n`);
    break;
  }
  case "notes": {
    const text = await readFile(join(ROOT, "CHANGELOG.md"), "utf8");
    const entry = changelogEntry(text, VERSION);
    if (entry === undefined) {
      fail(`Cannot find the entry of ${VERSION} in CHANGELOG.md ("## [${VERSION}]")`);
    }
    process.stdout.write(entry!);
    break;
  }
  case "files": {
    const [dir] = args;
    if (!dir) fail("Usage: release.ts files DIR");
    try {
      for (const file of await checkedReleaseFiles(dir)) {
        process.stdout.write(`${join(dir, file)}\n`);
      }
    } catch (error) {
      fail((error as Error).message);
    }
    break;
  }
  default:
    fail(
      `Unknown command "${
        command ?? ""
      }": check-tag, smoke, smoke-host, notes or files (see the top of scripts/release.ts)`,
    );
}
