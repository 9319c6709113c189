/**
 * `qwen version`: bare like `--version`; `--verbose` names the commit (read from git when run
 * from source, built in by `npm run build`), the runtime and the repository.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { readCheckout } from "../../src/lib/build-info.ts";
import { REPOSITORY_URL } from "../../src/lib/release.ts";
import { VERSION } from "../../src/lib/version.ts";
import { runInProcess } from "../helpers/fake-context.ts";
import { runCli } from "../helpers/run-cli.ts";

/** HEAD as git says it, asked here independently of src/lib/build-info.ts. */
function gitHead(): string | undefined {
  const r = spawnSync("git", ["rev-parse", "HEAD"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

describe("qwen version", () => {
  it("prints the bare version, as --version and -V do", async () => {
    for (const argv of [["version"], ["--version"], ["-V"]]) {
      const r = await runInProcess(argv);
      assert.equal(r.code, 0, argv.join(" "));
      assert.equal(r.stdout, `${VERSION}\n`);
      assert.equal(r.stderr, "");
    }
  });

  it("--verbose prints the version, the commit, the runtime and the repository", async () => {
    const r = await runInProcess(["version", "--verbose"]);
    assert.equal(r.code, 0);
    const lines = r.stdout.trimEnd().split("\n");
    assert.deepEqual(lines.map((line) => line.split(/ +/)[0]), [
      "version",
      "commit",
      "runtime",
      "repository",
    ]);
    assert.equal(lines[0], `version     ${VERSION}`);
    const runtime = "Deno" in globalThis ? "deno" : "bun";
    assert.match(lines[2], new RegExp(`^runtime     ${runtime} \\d+\\.\\d+\\.\\d+`));
    assert.equal(lines[3], "repository  https://github.com/qwen-serve/qwen");
    // Run from source: the commit is the checkout's, said to come from it.
    const head = gitHead();
    if (head === undefined) {
      assert.equal(lines[1], "commit      none (run from source, no git checkout)");
    } else {
      assert.match(
        lines[1],
        new RegExp(`^commit      ${head} \\(run from source(, with uncommitted changes)?\\)$`),
      );
    }
  });

  it("derives the repository address from package.json's repository.url", async () => {
    const { default: pkg } = await import("../../package.json", { with: { type: "json" } });
    assert.equal(pkg.repository.url, `git+${REPOSITORY_URL}.git`);
  });

  it("refuses an argument or an unknown flag with exit 2", async () => {
    for (const argv of [["version", "extra"], ["version", "--commit"]]) {
      const r = await runInProcess(argv);
      assert.equal(r.code, 2, argv.join(" "));
      assert.match(r.stderr, /qwen version --help/);
    }
  });

  it("lists the version command in the help", async () => {
    const r = await runInProcess(["--help"]);
    assert.match(r.stdout, /^ {2}version +Print the version/m);
  });

  it("runs as a process too", async () => {
    const r = await runCli(["version", "--verbose"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^version {5}\d+\.\d+\.\d+\ncommit {6}\S/);
  });
});

describe("readCheckout", () => {
  it("reads HEAD and notices a changed tracked file, in a repository of its own", async () => {
    const dir = await mkdtemp(join(tmpdir(), "qwen-git-"));
    const git = (...args: string[]) => {
      const r = spawnSync("git", ["-C", dir, ...args], {
        encoding: "utf8",
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: dir,
          GIT_CONFIG_NOSYSTEM: "1",
          GIT_AUTHOR_NAME: "t",
          GIT_AUTHOR_EMAIL: "t@example.invalid",
          GIT_COMMITTER_NAME: "t",
          GIT_COMMITTER_EMAIL: "t@example.invalid",
        },
      });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    try {
      assert.equal(await readCheckout(dir), undefined, "not a checkout yet");
      git("init", "-q");
      assert.equal(await readCheckout(dir), undefined, "no commit yet");
      await writeFile(join(dir, "a.txt"), "one\n");
      git("add", "a.txt");
      git("commit", "-q", "-m", "one");
      const head = git("rev-parse", "HEAD");
      assert.deepEqual(await readCheckout(dir), { commit: head, modified: false });
      await writeFile(join(dir, "untracked.txt"), "new\n");
      assert.deepEqual(await readCheckout(dir), { commit: head, modified: false });
      await writeFile(join(dir, "a.txt"), "two\n");
      assert.deepEqual(await readCheckout(dir), { commit: head, modified: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
