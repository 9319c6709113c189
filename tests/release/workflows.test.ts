/**
 * The GitHub workflows: linted offline by action-validator (the schema GitHub's own editor
 * uses, plus `needs` and glob checks), checked for the jobs and steps we rely on, and the
 * release run end to end on this machine (tests/helpers/workflow-run.ts) with fake binaries:
 * it must publish exactly the files `npm run build` makes, less those whose smoke test failed,
 * with a SHA256SUMS that lists exactly what is published.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { parse } from "yaml";
import {
  archiveFile,
  binaryFile,
  RELEASE_PLATFORMS,
  type ReleasePlatform,
  RELEASES_URL,
} from "../../src/lib/release.ts";
import { VERSION } from "../../src/lib/version.ts";
import { allBinaries, releaseFiles } from "../../scripts/release/files.ts";
import { changelogEntry } from "../../scripts/release/changelog.ts";
import { type Artifacts, type Job, pathWith, runJob, type Step } from "../helpers/workflow-run.ts";

const ROOT = resolve(".");
const WORKFLOWS = join(ROOT, ".github", "workflows");
const INSTALL_FIXTURE = '#!/bin/sh\nBASE="${QWEN_DOWNLOAD_URL:-@RELEASES_URL@}"\n';

interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
}

const readWorkflow = async (name: string) => await readFile(join(WORKFLOWS, name), "utf8");
const loadWorkflow = async (name: string) => parse(await readWorkflow(name)) as Workflow;

/** The step whose `run` contains `text`, and its place in the job. */
function stepRunning(job: Job, text: string): { step: Step; index: number } {
  const index = job.steps.findIndex((s) => s.run?.includes(text));
  assert.notEqual(index, -1, `no step runs "${text}"`);
  return { step: job.steps[index], index };
}

/** What a GitHub-hosted runner label runs on, by GitHub's naming. */
function runnerPlatform(label: string): string {
  const os = /^ubuntu-/.test(label)
    ? "linux"
    : /^macos-/.test(label)
    ? "darwin"
    : /^windows-/.test(label)
    ? "windows"
    : "unknown";
  const arch = os === "darwin"
    ? (/-intel$|^macos-13$/.test(label) ? "x64" : "arm64")
    : (/-arm$/.test(label) ? "arm64" : "x64");
  return `${os}-${arch}`;
}

describe("the workflows", () => {
  it("pass action-validator", async () => {
    for (const name of await readdir(WORKFLOWS)) {
      const result = validateWorkflow(await readWorkflow(name));
      assert.deepEqual(result.errors, [], `${name}: ${JSON.stringify(result.errors, null, 2)}`);
    }
    const names = await readdir(WORKFLOWS);
    assert.ok(names.includes("ci.yml") && names.includes("release.yml"), names.join(", "));
  });

  it("would be caught by action-validator if broken", async () => {
    const text = await readWorkflow("release.yml");
    for (
      const broken of [
        text.replace("    runs-on: ubuntu-24.04\n", "    runs_on: ubuntu-24.04\n"),
        text.replace("needs: [build, smoke]", "needs: [build, smoek]"),
        text.replace("      - uses: actions/checkout@v4\n", "      - usse: actions/checkout@v4\n"),
      ]
    ) {
      assert.notEqual(broken, text);
      assert.notDeepEqual(validateWorkflow(broken).errors, []);
    }
  });

  it("CI runs the README's test command on Linux", async () => {
    const readme = await readFile(join(ROOT, "README.md"), "utf8");
    const command = /as CI runs them:\n\n```sh\n([^\n]+)\n```/.exec(readme)?.[1];
    assert.equal(command, "npm install && npm test");
    const ci = await loadWorkflow("ci.yml");
    assert.deepEqual(Object.keys(ci.on).sort(), ["pull_request", "push"]);
    assert.equal(runnerPlatform(ci.jobs.test["runs-on"]), "linux-x64");
    assert.equal(stepRunning(ci.jobs.test, command).step.run, command);
    const local = await readFile(join(ROOT, ".ci", "run"), "utf8");
    assert.equal(local.trimEnd().split("\n").at(-1), command);
  });

  it("CI builds and smoke-tests the binary on macOS and Windows runners", async () => {
    const { binary } = (await loadWorkflow("ci.yml")).jobs;
    assert.equal(binary["runs-on"], "${{ matrix.runner }}");
    const runners = binary.strategy!.matrix.runner as string[];
    assert.deepEqual(runners.map((r) => runnerPlatform(r).split("-")[0]).sort(), [
      "darwin",
      "windows",
    ]);
    const build = stepRunning(binary, "scripts/build.ts --host");
    const smoke = stepRunning(binary, "scripts/release.ts smoke-host");
    assert.ok(build.index < smoke.index);
  });

  it("releases on a v* tag only, after checking the tag against package.json", async () => {
    const release = await loadWorkflow("release.yml");
    assert.deepEqual(release.on, { push: { tags: ["v*"] } });
    const { build } = release.jobs;
    const check = stepRunning(build, 'scripts/release.ts check-tag "$GITHUB_REF_NAME"');
    assert.ok(check.index < stepRunning(build, "npm run build").index);
  });

  it("smoke-tests each platform on a runner of its own OS, macOS binaries signed first", async () => {
    const { smoke } = (await loadWorkflow("release.yml")).jobs;
    const include = smoke.strategy!.matrix.include!;
    assert.deepEqual(include.map((m) => m.platform).sort(), [...RELEASE_PLATFORMS].sort());
    for (const { platform, runner } of include) assert.equal(runnerPlatform(runner), platform);
    assert.equal(smoke["runs-on"], "${{ matrix.runner }}");

    const sign = stepRunning(smoke, "codesign --force --sign -");
    assert.equal(sign.step.if, "runner.os == 'macOS'");
    const test = stepRunning(smoke, 'scripts/release.ts smoke "$PLATFORM" dist passed');
    const upload = smoke.steps.findIndex((s) => s.uses?.startsWith("actions/upload-artifact@"));
    assert.ok(sign.index < test.index && test.index < upload, "sign, smoke-test, then upload");
    // The publish job makes the archives and checksums, from the signed binaries.
    const { publish } = (await loadWorkflow("release.yml")).jobs;
    assert.deepEqual(publish.needs, ["build", "smoke"]);
    // A failed smoke job must not stop the others' binaries from going out.
    assert.match(publish.if ?? "", /!cancelled\(\) && needs\.build\.result == 'success'/);
  });
});

describe("a release run, played on this machine", () => {
  const folders: string[] = [];
  let fakes: string;

  before(async () => {
    fakes = await mkdtemp(join(tmpdir(), "qwen-fakes-"));
    folders.push(fakes);
    // npm: only `npm ci` is expected (npm run build is played by the test); gh records.
    await writeFile(join(fakes, "npm"), '#!/bin/sh\n[ "$1" = ci ] || exit 1\n');
    await writeFile(join(fakes, "gh"), '#!/bin/sh\nprintf "%s\\n" "$@" > "$GH_RECORD"\n');
    await writeFile(join(fakes, "codesign"), "#!/bin/sh\nexit 1\n"); // never on Linux
    for (const f of ["npm", "gh", "codesign"]) await chmod(join(fakes, f), 0o755);
  });
  after(async () => {
    for (const folder of folders) await rm(folder, { recursive: true, force: true });
  });

  /** A folder laid out as the repository's checkout, with a stand-in install script. */
  async function checkout(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "qwen-checkout-"));
    folders.push(dir);
    const copy = spawnSync("cp", ["-R", join(ROOT, "scripts"), join(dir, "scripts")]);
    assert.equal(copy.status, 0, String(copy.stderr));
    await writeFile(join(dir, "scripts", "install.sh"), INSTALL_FIXTURE);
    for (const name of ["src", "node_modules"]) await symlink(join(ROOT, name), join(dir, name));
    for (const name of ["package.json", "CHANGELOG.md", "deno.json"]) {
      await copyFile(join(ROOT, name), join(dir, name));
    }
    return dir;
  }

  /**
   * The three jobs of release.yml in order. `npm run build` is played by fake binaries named
   * as build.ts names them and its real packaging step; every smoke test passes but those of
   * the binaries in `failing`. Returns what the build made and what gh was asked to publish.
   */
  async function release(built: (p: ReleasePlatform) => ("bun" | "deno")[], failing: string[]) {
    const workflow = await loadWorkflow("release.yml");
    const artifacts: Artifacts = new Map();
    const record = join(fakes, `gh-${folders.length}.txt`);
    const env = {
      PATH: pathWith(fakes),
      HOME: fakes,
      GITHUB_REF_NAME: `v${VERSION}`,
      GH_RECORD: record,
    };

    const buildDir = await checkout();
    await runJob({
      dir: buildDir,
      job: workflow.jobs.build,
      artifacts,
      env,
      instead: async (step) => {
        if (step.run !== "npm run build") return false;
        await mkdir(join(buildDir, "dist"));
        await writeFile(join(buildDir, "dist", "qwen"), "the host's copy, not a release file");
        for (const platform of RELEASE_PLATFORMS) {
          for (const compiler of built(platform)) {
            await writeFile(
              join(buildDir, "dist", binaryFile(platform, compiler)),
              randomBytes(2048),
            );
          }
        }
        const pack = spawnSync("node_modules/.bin/bun", ["scripts/build.ts", "--package", "dist"], {
          cwd: buildDir,
          encoding: "utf8",
        });
        assert.equal(pack.status, 0, pack.stderr);
        return true;
      },
    });
    const buildMade = (await readdir(join(buildDir, "dist"))).filter((f) => f !== "qwen").sort();

    for (const matrix of workflow.jobs.smoke.strategy!.matrix.include!) {
      const dir = await checkout();
      await runJob({
        dir,
        job: workflow.jobs.smoke,
        artifacts,
        matrix,
        env,
        instead: async (step, stepEnv) => {
          if (!step.run?.includes("release.ts smoke")) return false;
          assert.equal(stepEnv.PLATFORM, matrix.platform);
          await mkdir(join(dir, "passed"));
          let failed = false;
          for (const file of await readdir(join(dir, "dist"))) {
            if (!file.replace(/\.exe$/, "").endsWith(`-${matrix.platform}`)) continue;
            if (failing.includes(file)) failed = true;
            else await copyFile(join(dir, "dist", file), join(dir, "passed", file));
          }
          return failed ? "failed" : true;
        },
      });
    }

    const publishDir = await checkout();
    await runJob({ dir: publishDir, job: workflow.jobs.publish, artifacts, env });
    const args = (await readFile(record, "utf8")).trimEnd().split("\n");
    return { buildMade, buildDir, publishDir, args };
  }

  /** The files gh was given, by name; its other arguments checked. */
  async function published(args: string[], publishDir: string): Promise<string[]> {
    assert.deepEqual(args.slice(0, 3), ["release", "create", `v${VERSION}`]);
    const notes = args[args.indexOf("--notes-file") + 1];
    const changelog = await readFile(join(ROOT, "CHANGELOG.md"), "utf8");
    assert.equal(
      await readFile(join(publishDir, notes), "utf8"),
      changelogEntry(changelog, VERSION),
    );
    const files = args.filter((a) => a.startsWith("release/"));
    for (const file of files) await readFile(join(publishDir, file)); // each exists
    return files.map((f) => basename(f));
  }

  it("publishes exactly the files npm run build makes, SHA256SUMS listing them", async () => {
    const bunOnly = () => ["bun" as const];
    const { buildMade, buildDir, publishDir, args } = await release(bunOnly, []);
    const expected = releaseFiles(allBinaries().filter((b) => b.compiler === "bun"));
    assert.deepEqual(buildMade, [...expected].sort(), "npm run build made the release's files");
    const files = await published(args, publishDir);
    assert.deepEqual([...files].sort(), buildMade, "the release publishes what the build made");

    const sums = await readFile(join(publishDir, "release", "SHA256SUMS"), "utf8");
    assert.deepEqual(
      sums.trimEnd().split("\n").map((l) => l.split("  ")[1]).sort(),
      files.filter((f) => f !== "SHA256SUMS").sort(),
    );
    const check = spawnSync("sha256sum", ["--check", "--strict", "SHA256SUMS"], {
      cwd: join(publishDir, "release"),
      encoding: "utf8",
    });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    // The binaries published are the ones built, byte for byte; install.sh has the address.
    for (const platform of RELEASE_PLATFORMS) {
      const file = binaryFile(platform);
      assert.deepEqual(
        await readFile(join(publishDir, "release", file)),
        await readFile(join(buildDir, "dist", file)),
      );
    }
    assert.match(
      await readFile(join(publishDir, "release", "install.sh"), "utf8"),
      new RegExp(`QWEN_DOWNLOAD_URL:-${RELEASES_URL.replaceAll(".", "\\.")}\\}`),
    );
  });

  it("leaves out a binary whose smoke test failed, and publishes Deno's that passed", async () => {
    const built = (p: ReleasePlatform) =>
      p === "linux-x64" || p === "windows-x64"
        ? ["bun" as const, "deno" as const]
        : ["bun" as const];
    const { buildMade, publishDir, args } = await release(built, [binaryFile("windows-x64")]);
    const files = await published(args, publishDir);
    const left = [binaryFile("windows-x64"), archiveFile("windows-x64")];
    assert.ok(buildMade.includes(binaryFile("linux-x64", "deno")));
    assert.ok(files.includes(binaryFile("windows-x64", "deno")), "passed on the same runner");
    assert.deepEqual([...files].sort(), buildMade.filter((f) => !left.includes(f)));
    const sums = await readFile(join(publishDir, "release", "SHA256SUMS"), "utf8");
    for (const file of left) {
      assert.doesNotMatch(sums, new RegExp(`  ${file.replaceAll(".", "\\.")}$`, "m"));
    }
  });
});
