/**
 * scripts/install.sh, run by the system's sh (dash here) against fake releases on loopback, with
 * a temporary HOME and TMPDIR and a PATH holding only the tools a case allows: symlinks to the
 * real ones, and a fake `uname` that says which platform we are on. The script is the build's
 * copy: the placeholder replaced by RELEASES_URL, so it recognises its own binaries as released
 * ones would; QWEN_DOWNLOAD_URL points it at the fake releases.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { spawn } from "node:child_process";
import { delimiter, join } from "node:path";
import process from "node:process";
import {
  archiveFile,
  binaryFile,
  CHECKSUMS_FILE,
  releaseFileUrl,
  type ReleasePlatform,
  RELEASES_URL,
  REPOSITORY_URL,
  VERSION_FILE,
} from "../../src/lib/release.ts";
import {
  type ReleaseFiles,
  type RunningReleases,
  sha256Sums,
  startReleases,
  tarGz,
  writeRelease,
} from "../helpers/fake-releases.ts";
import { compiledBinary } from "../helpers/compiled-binary.ts";
import { collect } from "../helpers/run-cli.ts";
import { type TempHomes, tempHomes } from "../helpers/temp-homes.ts";
import { startServer } from "../helpers/with-server.ts";

const SCRIPT = "scripts/install.sh";
const PLACEHOLDER = "@RELEASES_URL@";
/** What every binary of ours contains, and the install script looks for. */
const MARKER = REPOSITORY_URL.replace(/^https?:\/\//, "");
const UNIX_PLATFORMS = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"] as const;

/** The tools the script may use, linked from the host; each case removes some. */
const TOOLS = [
  "curl",
  "wget",
  "tar",
  "gzip",
  "sha256sum",
  "shasum",
  "mktemp",
  "grep",
  "chmod",
  "mv",
  "rm",
  "mkdir",
  "cp",
  "cat",
];

function hostTool(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

const SH = hostTool("sh") ?? "/bin/sh";
const missing = (...names: string[]) => {
  const absent = names.filter((n) => !hostTool(n));
  return absent.length ? `not installed here: ${absent.join(", ")}` : false;
};

/** A fake binary of ours: a script carrying the marker, printing its version. */
function ourBinary(version: string, platform: string, exitCode = 0): string {
  return `#!/bin/sh\n# ${MARKER} fake qwen ${version} ${platform}\n` +
    (exitCode === 0
      ? `echo ${version}\n`
      : `echo "cannot execute binary file" >&2\nexit ${exitCode}\n`);
}

/** The other `qwen` (the official CLI's name): leaves a trace if anyone runs it. */
function otherQwen(trace: string): string {
  return `#!/bin/sh\necho ran >"${trace}"\necho "Qwen Code"\n`;
}

async function releaseFiles(version: string, exitCode = 0): Promise<ReleaseFiles> {
  const files: ReleaseFiles = {};
  for (const platform of UNIX_PLATFORMS) {
    const binary = ourBinary(version, platform, exitCode);
    files[binaryFile(platform)] = binary;
    files[archiveFile(platform)] = await tarGz("qwen", binary);
  }
  return files;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  home: string;
  /** ~/.local/bin, the default install folder. */
  bin: string;
}

interface RunOptions {
  env?: Record<string, string>;
  /** What the fake uname says for -s and -m (default Linux x86_64). */
  uname?: [string, string];
  /** Host tools left out of PATH. */
  without?: string[];
  /** Folders put on PATH before the tools. */
  path?: string[];
  /** Use this HOME (e.g. to install twice into one). */
  home?: string;
  /** Extra fake tools: name → sh script body. */
  fakes?: Record<string, string>;
  /** The shell and its arguments (default: sh). */
  shell?: string[];
  /** The script to run (default: the build's copy). */
  script?: string;
}

describe("scripts/install.sh", () => {
  let homes: TempHomes;
  let releases: RunningReleases;
  let root: string;
  let script: string;

  before(async () => {
    homes = await tempHomes();
    root = await homes.fresh();
    await writeRelease(root, "0.1.0", await releaseFiles("0.1.0"));
    await writeRelease(root, "0.2.0", await releaseFiles("0.2.0"), { latest: true });
    // A release whose SHA256SUMS lies about one file, and one that does not list it.
    const bad = await releaseFiles("0.0.1-badsum");
    await writeRelease(root, "0.0.1-badsum", bad, {
      sums: sha256Sums({ ...bad, [archiveFile("linux-x64")]: "something else" }),
    });
    const unlisted = await releaseFiles("0.0.2-unlisted");
    const listed = Object.fromEntries(
      Object.entries(unlisted).filter(([name]) => !name.includes("linux-x64")),
    );
    await writeRelease(root, "0.0.2-unlisted", unlisted, { sums: sha256Sums(listed) });
    await writeRelease(root, "0.0.4-malformed", await releaseFiles("0.0.4-malformed"), {
      sums: `${"AB".repeat(32)}  ${archiveFile("linux-x64")}\n`,
    });
    // Verified, but cannot run here (as a binary for another libc or CPU).
    await writeRelease(root, "0.0.3-broken", await releaseFiles("0.0.3-broken", 126));
    releases = await startReleases(root);
    // The build's copy: the placeholder replaced by the releases' address.
    const source = await readFile(SCRIPT, "utf8");
    script = join(await homes.fresh(), "install.sh");
    await writeFile(script, source.replace(PLACEHOLDER, RELEASES_URL));
  });
  after(async () => {
    await releases.close();
    await homes.cleanup();
  });

  /** Runs the script; asserts that it left no temporary file behind, whatever the outcome. */
  async function install(options: RunOptions = {}): Promise<Run> {
    const home = options.home ?? await homes.fresh();
    const bin = join(home, ".local", "bin");
    const tmp = join(home, "tmp");
    await mkdir(tmp, { recursive: true });
    const tools = join(await homes.fresh(), "tools");
    await mkdir(tools);
    for (const name of TOOLS) {
      const real = hostTool(name);
      if (real && !options.without?.includes(name)) await symlink(real, join(tools, name));
    }
    const [s, m] = options.uname ?? ["Linux", "x86_64"];
    const fakes = {
      uname: `case "$1" in -s) echo ${s} ;; -m) echo ${m} ;; *) exit 1 ;; esac`,
      ...options.fakes,
    };
    for (const [name, body] of Object.entries(fakes)) {
      await writeFile(join(tools, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    }
    const [shell, ...shellArgs] = options.shell ?? [SH];
    const child = spawn(shell, [...shellArgs, options.script ?? script], {
      env: {
        HOME: home,
        TMPDIR: tmp,
        PATH: [...(options.path ?? []), tools].join(":"),
        QWEN_DOWNLOAD_URL: releases.url,
        ...options.env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const r = await collect(child);
    assert.deepEqual(await readdir(tmp), [], "the temporary folder is left empty");
    if (existsSync(bin)) {
      const leftovers = (await readdir(bin)).filter((f) => f.startsWith("."));
      assert.deepEqual(leftovers, [], "no temporary file is left in the install folder");
    }
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, home, bin };
  }

  /** The paths requested since `from` (an index into the request log). */
  const requestedSince = (from: number) => releases.requests.slice(from).map((r) => r.path);
  const urlPath = (file: string, version?: string) =>
    new URL(releaseFileUrl(releases.url, file, version)).pathname;

  async function assertInstalled(path: string, version: string, platform: ReleasePlatform) {
    assert.equal(await readFile(path, "utf8"), ourBinary(version, platform));
    assert.equal((await stat(path)).mode & 0o777, 0o755);
  }

  describe("the happy path", () => {
    it("installs the latest release's archive for Linux x64, verified, from one release", async () => {
      const from = releases.requests.length;
      const r = await install();
      assert.equal(r.code, 0, r.stderr);
      const target = join(r.bin, "qwen");
      await assertInstalled(target, "0.2.0", "linux-x64");
      // The latest version is read once; its files come from its own folder, so the checksums
      // and the binary belong to one release.
      assert.deepEqual(requestedSince(from), [
        urlPath(VERSION_FILE),
        urlPath(CHECKSUMS_FILE, "0.2.0"),
        urlPath(archiveFile("linux-x64"), "0.2.0"),
      ]);
      assert.match(
        r.stdout,
        new RegExp(`^Installed qwen 0\\.2\\.0 \\(linux-x64\\) as "${target}"\\.$`, "m"),
      );
      assert.match(r.stdout, /auth --provider coding-plan/);
      assert.match(r.stdout, /service install/);
      assert.match(r.stderr, /^Downloading qwen 0\.2\.0 for linux-x64: /m);
    });

    it("installs a given version, with or without its v, for macOS arm64 with shasum only", {
      skip: missing("shasum"),
    }, async () => {
      for (const version of ["v0.1.0", "0.1.0"]) {
        const from = releases.requests.length;
        const r = await install({
          uname: ["Darwin", "arm64"],
          without: ["sha256sum"],
          env: { QWEN_VERSION: version },
        });
        assert.equal(r.code, 0, r.stderr);
        await assertInstalled(join(r.bin, "qwen"), "0.1.0", "darwin-arm64");
        assert.deepEqual(requestedSince(from), [
          urlPath(CHECKSUMS_FILE, "0.1.0"),
          urlPath(archiveFile("darwin-arm64"), "0.1.0"),
        ]);
        assert.match(r.stdout, /^Installed qwen 0\.1\.0 \(darwin-arm64\)/m);
      }
    });

    it("maps aarch64, amd64 and Rosetta's x86_64 to the release's names", async () => {
      const cases: [[string, string], ReleasePlatform, Record<string, string>][] = [
        [["Linux", "aarch64"], "linux-arm64", {}],
        [["Linux", "amd64"], "linux-x64", {}],
        [["Darwin", "x86_64"], "darwin-x64", {}],
        // A shell translated by Rosetta on Apple silicon: the native binary is the one wanted.
        [["Darwin", "x86_64"], "darwin-arm64", {
          sysctl: '[ "$*" = "-n sysctl.proc_translated" ] && echo 1',
        }],
      ];
      for (const [uname, platform, fakes] of cases) {
        const r = await install({ uname, fakes });
        assert.equal(r.code, 0, r.stderr);
        await assertInstalled(join(r.bin, "qwen"), "0.2.0", platform);
      }
    });

    it("installs into QWEN_INSTALL_DIR, creating it", async () => {
      const dir = join(await homes.fresh(), "a", "b c");
      const r = await install({ env: { QWEN_INSTALL_DIR: dir } });
      assert.equal(r.code, 0, r.stderr);
      await assertInstalled(join(dir, "qwen"), "0.2.0", "linux-x64");
      assert.equal(existsSync(r.bin), false, "~/.local/bin is not touched");
      // Outside the home folder, the line to add names it as it is.
      assert.ok(r.stdout.includes(`  export PATH="${dir}:$PATH"\n`), r.stdout);
      // A path with a space is quoted in the next steps.
      assert.match(r.stdout, new RegExp(`^ +"${join(dir, "qwen")}" service install$`, "m"));
    });

    it("re-installs over an existing binary of ours", async () => {
      const first = await install({ env: { QWEN_VERSION: "0.1.0" } });
      assert.equal(first.code, 0, first.stderr);
      // Now on PATH as well: ours, so it is no reason to stop.
      const again = await install({ home: first.home, path: [first.bin] });
      assert.equal(again.code, 0, again.stderr);
      await assertInstalled(join(first.bin, "qwen"), "0.2.0", "linux-x64");
      assert.deepEqual(await readdir(first.bin), ["qwen"]);
    });

    it("is plain POSIX sh: it parses, and uses none of bash's additions", async () => {
      const parsed = await collect(spawn(SH, ["-n", SCRIPT], { stdio: ["pipe", "pipe", "pipe"] }));
      assert.equal(parsed.code, 0, parsed.stderr);
      // Paths not taken by the cases here still run under dash, busybox ash, ...
      const code = (await readFile(SCRIPT, "utf8"))
        .split("\n")
        .filter((line) => !/^\s*#/.test(line))
        .join("\n");
      for (
        const bashism of [
          /\[\[/,
          /\[ [^\]]* == /,
          /(^|[;{|&]|\bthen|\bdo)\s*(local|function|declare|typeset|source|let)\s/m,
          /\$'/,
          /<<</,
          /\$\{\w+(\/\/?|:\d|\^|,)/,
          /&>/,
          /\bpipefail\b/,
          /\becho -[en]/,
          /\(\(/,
          /\$RANDOM|\$BASH/,
        ]
      ) {
        assert.doesNotMatch(code, bashism);
      }
    });

    it("runs under bash --posix too", { skip: missing("bash") }, async () => {
      const r = await install({ shell: [hostTool("bash")!, "--posix"] });
      assert.equal(r.code, 0, r.stderr);
      await assertInstalled(join(r.bin, "qwen"), "0.2.0", "linux-x64");
    });
  });

  describe("tools", () => {
    it("downloads with wget when curl is missing", { skip: missing("wget") }, async () => {
      const from = releases.requests.length;
      const r = await install({ without: ["curl"] });
      assert.equal(r.code, 0, r.stderr);
      await assertInstalled(join(r.bin, "qwen"), "0.2.0", "linux-x64");
      const agents = releases.requests.slice(from).map((q) => q.userAgent);
      assert.equal(agents.length, 3);
      for (const agent of agents) assert.match(agent, /wget/i);
    });

    it("says so when neither curl nor wget is there, before touching anything", async () => {
      const from = releases.requests.length;
      const r = await install({ without: ["curl", "wget"] });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        "error: Cannot download qwen: neither curl nor wget is installed; install one of them and run this again\n",
      );
      assert.equal(existsSync(r.bin), false);
      assert.deepEqual(requestedSince(from), []);
    });

    it("installs the plain binary when tar (or gzip) is missing", async () => {
      for (const without of [["tar"], ["gzip"]]) {
        const from = releases.requests.length;
        const r = await install({ without });
        assert.equal(r.code, 0, r.stderr);
        await assertInstalled(join(r.bin, "qwen"), "0.2.0", "linux-x64");
        assert.equal(requestedSince(from).at(-1), urlPath(binaryFile("linux-x64"), "0.2.0"));
      }
    });

    it("refuses to install unverified when neither sha256sum nor shasum is there", async () => {
      const r = await install({ without: ["sha256sum", "shasum"] });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: Cannot verify the download: neither sha256sum .* nor shasum/);
      assert.equal(existsSync(r.bin), false);
    });
  });

  describe("refusals", () => {
    it("refuses a download whose checksum does not match, deletes it, keeps the old binary", async () => {
      const first = await install({ env: { QWEN_VERSION: "0.1.0" } });
      assert.equal(first.code, 0, first.stderr);
      const r = await install({ home: first.home, env: { QWEN_VERSION: "0.0.1-badsum" } });
      assert.equal(r.code, 1);
      const file = archiveFile("linux-x64");
      assert.match(
        r.stderr,
        new RegExp(
          `^error: Cannot verify "${file}": its SHA-256 is [0-9a-f]{64} but ".*/download/v0\\.0\\.1-badsum/SHA256SUMS" says [0-9a-f]{64}; the download was deleted and nothing was installed$`,
          "m",
        ),
      );
      assert.equal(r.stdout, "");
      await assertInstalled(join(first.bin, "qwen"), "0.1.0", "linux-x64");
    });

    it("refuses a file missing from SHA256SUMS without downloading it", async () => {
      const from = releases.requests.length;
      const r = await install({ env: { QWEN_VERSION: "0.0.2-unlisted" } });
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^error: Cannot verify "qwen-bun-linux-x64\.tar\.gz": it is not listed in ".*\/download\/v0\.0\.2-unlisted\/SHA256SUMS"; nothing was downloaded or installed$/m,
      );
      assert.deepEqual(requestedSince(from), [urlPath(CHECKSUMS_FILE, "0.0.2-unlisted")]);
      const malformed = await install({ env: { QWEN_VERSION: "0.0.4-malformed" } });
      assert.equal(malformed.code, 1);
      assert.match(
        malformed.stderr,
        /^error: Cannot verify "qwen-bun-linux-x64\.tar\.gz": its line in ".*\/SHA256SUMS" holds no SHA-256 \(64 lower-case hex digits\)/m,
      );
      assert.deepEqual(existsSync(r.bin) ? await readdir(r.bin) : [], []);
    });

    it("refuses an unknown platform, naming it and the supported ones", async () => {
      const from = releases.requests.length;
      for (
        const [uname, found] of [
          [["FreeBSD", "amd64"], "FreeBSD amd64"],
          [["Linux", "riscv64"], "Linux riscv64"],
          [["SunOS", "i86pc"], "SunOS i86pc"],
        ] as const
      ) {
        const r = await install({ uname: [...uname] });
        assert.equal(r.code, 1);
        assert.equal(
          r.stderr,
          `error: Cannot install qwen on "${found}": there is no release binary for it (supported: Linux x64, Linux arm64, macOS x64, macOS arm64)\n`,
        );
      }
      const windows = await install({ uname: ["MINGW64_NT-10.0-19045", "x86_64"] });
      assert.equal(windows.code, 1);
      assert.match(windows.stderr, /on Windows .*qwen-bun-windows-x64\.zip and SHA256SUMS/);
      assert.deepEqual(requestedSince(from), []);
    });

    it("says clearly when the version asked for is not released (404)", async () => {
      const r = await install({ env: { QWEN_VERSION: "v9.9.9" } });
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^error: Cannot download qwen 9\.9\.9: ".*\/download\/v9\.9\.9\/SHA256SUMS": not found \(HTTP 404\)\. Is "9\.9\.9" a released version\? The releases: http:\/\/127\.0\.0\.1:\d+$/m,
      );
      assert.equal(existsSync(r.bin), true, "the folder is made before downloading");
      assert.deepEqual(await readdir(r.bin), []);
    });

    it("says which release is missing with wget too", { skip: missing("wget") }, async () => {
      const r = await install({ without: ["curl"], env: { QWEN_VERSION: "9.9.9" } });
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^error: Cannot download qwen 9\.9\.9: .*the server answered with an error.*Is "9\.9\.9" a released version\?/m,
      );
    });

    it("says when there are no releases at the base URL", async () => {
      const empty = await startServer(() => new Response("not found", { status: 404 }));
      try {
        const r = await install({ env: { QWEN_DOWNLOAD_URL: `${empty.url}/mirror/` } });
        assert.equal(r.code, 1);
        assert.match(
          r.stderr,
          /^error: Cannot find the latest release: downloading "http:\/\/127\.0\.0\.1:\d+\/mirror\/latest\/download\/VERSION" failed: not found \(HTTP 404\)\. Is QWEN_DOWNLOAD_URL \("http:\/\/127\.0\.0\.1:\d+\/mirror"\) a releases base URL\?$/m,
        );
      } finally {
        await empty.close(true);
      }
    });

    it("says why when the server cannot be reached", async () => {
      const gone = await startServer(() => new Response(""));
      await gone.close(true);
      const r = await install({ env: { QWEN_DOWNLOAD_URL: gone.url } });
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^error: Cannot download ".*\/latest\/download\/VERSION": \(7\) .*connect/im,
      );
    });

    it("does not install a verified binary that cannot run here; the old one stays", async () => {
      const first = await install({ env: { QWEN_VERSION: "0.1.0" } });
      assert.equal(first.code, 0, first.stderr);
      const r = await install({ home: first.home, env: { QWEN_VERSION: "0.0.3-broken" } });
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^error: Cannot run the downloaded qwen 0\.0\.3-broken on this machine \(Linux x86_64\): "qwen --version" exited 126: cannot execute binary file; nothing was installed$/m,
      );
      await assertInstalled(join(first.bin, "qwen"), "0.1.0", "linux-x64");
    });

    it("refuses bad values of its variables, naming them", async () => {
      const cases: [Record<string, string>, string][] = [
        [
          { QWEN_VERSION: "1.0;rm" },
          'Invalid QWEN_VERSION "1.0;rm": expected a version such as "0.2.0" or "v0.2.0"',
        ],
        [{ QWEN_VERSION: "vx" }, 'Invalid QWEN_VERSION "vx"'],
        [{ QWEN_INSTALL_NAME: "../qwen" }, 'Invalid QWEN_INSTALL_NAME "../qwen"'],
        [{ QWEN_INSTALL_FORCE: "yes" }, 'Invalid QWEN_INSTALL_FORCE "yes": expected "1"'],
        [
          { QWEN_DOWNLOAD_URL: "ftp://x" },
          'Invalid QWEN_DOWNLOAD_URL "ftp://x": expected an http:// or https:// URL',
        ],
      ];
      const from = releases.requests.length;
      for (const [env, message] of cases) {
        const r = await install({ env });
        assert.equal(r.code, 1);
        assert.ok(r.stderr.startsWith(`error: ${message}`), r.stderr);
        assert.equal(existsSync(r.bin), false);
      }
      assert.deepEqual(requestedSince(from), []);
    });

    it("is described by the README: its install line, its default base and its variables", async () => {
      const readme = await readFile("README.md", "utf8");
      assert.ok(
        readme.includes(`\ncurl -fsSL ${RELEASES_URL}/latest/download/install.sh | sh\n`),
        "the README's install line is the releases' install.sh",
      );
      const section = readme.slice(readme.indexOf("## Install\n"), readme.indexOf("## Commands\n"));
      const documented = new Set(
        section.match(/^\| `(QWEN_\w+)`/gm)?.map((row) => row.slice(3, -1)),
      );
      const source = await readFile(SCRIPT, "utf8");
      const read = new Set(source.match(/\$\{?QWEN_\w+/g)?.map((v) => v.replace(/^\$\{?/, "")));
      assert.deepEqual([...documented].sort(), [...read].sort());
      assert.match(section, new RegExp(`\`QWEN_DOWNLOAD_URL\` +\\| replaces \`${RELEASES_URL}\``));
    });

    it("the source copy, without QWEN_DOWNLOAD_URL, says to use a release's install.sh", async () => {
      const source = await readFile(SCRIPT, "utf8");
      // Written once, so that the build's replacement is the whole story.
      assert.equal(source.split(PLACEHOLDER).length - 1, 1);
      const plain = await install({ script: SCRIPT, env: { QWEN_DOWNLOAD_URL: "" } });
      assert.equal(plain.code, 1);
      assert.match(
        plain.stderr,
        /^error: Cannot tell where to download qwen from: this install\.sh is the source tree's copy.*Use the install\.sh published with each release, or set QWEN_DOWNLOAD_URL/,
      );
      // With QWEN_DOWNLOAD_URL it works, but cannot know a binary of ours.
      const mirrored = await install({ script: SCRIPT });
      assert.equal(mirrored.code, 0, mirrored.stderr);
      await assertInstalled(join(mirrored.bin, "qwen"), "0.2.0", "linux-x64");
    });
  });

  describe("PATH", () => {
    it("says when the install folder is not on PATH, with the line to add", async () => {
      const r = await install({ env: { SHELL: "/bin/zsh" } });
      assert.equal(r.code, 0, r.stderr);
      const target = join(r.bin, "qwen");
      assert.ok(
        r.stdout.includes(
          `\n"${r.bin}" is not on your PATH. Add this line to ~/.zshrc and open a new terminal:\n  export PATH="$HOME/.local/bin:$PATH"\n`,
        ),
        r.stdout,
      );
      // Until then, the next steps name the full path.
      assert.match(r.stdout, new RegExp(`^ +${target} auth --provider coding-plan$`, "m"));
      const fish = await install({ env: { SHELL: "/usr/bin/fish" } });
      assert.ok(fish.stdout.includes(`  fish_add_path "$HOME/.local/bin"\n`), fish.stdout);
      const other = await install({});
      assert.ok(other.stdout.includes("Add this line to ~/.profile"), other.stdout);
    });

    it("says nothing about PATH when the folder is on it, and names the command", async () => {
      const home = await homes.fresh();
      const bin = join(home, ".local", "bin");
      const r = await install({ home, path: [`${bin}/`] });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /not on your PATH|Note:/);
      assert.match(r.stdout, /^ {7}qwen auth --provider coding-plan$/m);
      assert.match(r.stdout, /^ {7}qwen service install$/m);
    });
  });

  describe("another qwen (the official Qwen Code CLI's name)", () => {
    async function officialCli() {
      const folder = join(await homes.fresh(), "npm", "bin");
      await mkdir(folder, { recursive: true });
      const trace = join(folder, "..", "ran");
      await writeFile(join(folder, "qwen"), otherQwen(trace), { mode: 0o755 });
      return { folder, path: join(folder, "qwen"), trace };
    }

    it("refuses, naming it and both ways out, without running it", async () => {
      const other = await officialCli();
      const r = await install({ path: [other.folder] });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `error: Cannot install "${
          join(r.bin, "qwen")
        }": another "qwen" is on PATH: "${other.path}" ` +
          `(not this project's; the official Qwen Code CLI is also called qwen). ` +
          `Run this script again with one of:\n` +
          `  QWEN_INSTALL_NAME=qwen-proxy  install this one as "qwen-proxy" instead\n` +
          `  QWEN_INSTALL_FORCE=1          install it as "qwen" anyway, beside the other one\n` +
          `e.g. curl -fsSL ${RELEASES_URL}/latest/download/install.sh | QWEN_INSTALL_NAME=qwen-proxy sh\n`,
      );
      assert.match(r.stderr, /QWEN_INSTALL_FORCE=1/);
      assert.equal(existsSync(r.bin), false, "nothing installed");
      assert.equal(existsSync(other.trace), false, "the other qwen was never run");
    });

    it("installs under QWEN_INSTALL_NAME beside it", async () => {
      const other = await officialCli();
      const home = await homes.fresh();
      const bin = join(home, ".local", "bin");
      const r = await install({
        home,
        path: [bin, other.folder],
        env: { QWEN_INSTALL_NAME: "qwen-proxy" },
      });
      assert.equal(r.code, 0, r.stderr);
      await assertInstalled(join(bin, "qwen-proxy"), "0.2.0", "linux-x64");
      assert.deepEqual(await readdir(bin), ["qwen-proxy"]);
      assert.match(r.stdout, /^ {7}qwen-proxy auth --provider coding-plan$/m);
      assert.match(r.stdout, /^ {7}qwen-proxy service install$/m);
      assert.equal(await readFile(other.path, "utf8"), otherQwen(other.trace));
      assert.equal(existsSync(other.trace), false);
    });

    it("installs as qwen with QWEN_INSTALL_FORCE=1, and says which one runs first", async () => {
      const other = await officialCli();
      const home = await homes.fresh();
      const bin = join(home, ".local", "bin");
      const r = await install({
        home,
        path: [other.folder, bin],
        env: { QWEN_INSTALL_FORCE: "1" },
      });
      assert.equal(r.code, 0, r.stderr);
      await assertInstalled(join(bin, "qwen"), "0.2.0", "linux-x64");
      assert.ok(
        r.stdout.includes(
          `Note: "${other.path}" comes first on PATH, so "qwen" runs that one; run "${
            join(bin, "qwen")
          }" or put "${bin}" earlier on PATH.`,
        ),
        r.stdout,
      );
      assert.equal(existsSync(other.trace), false);
      // Ours first: it runs, and the other one is still mentioned.
      const first = await install({
        home,
        path: [bin, other.folder],
        env: { QWEN_INSTALL_FORCE: "1" },
      });
      assert.equal(first.code, 0, first.stderr);
      assert.ok(
        first.stdout.includes(`Note: another "qwen" is also on PATH: "${other.path}"`),
        first.stdout,
      );
    });

    it("leaves a file of another program at the target alone unless forced", async () => {
      const home = await homes.fresh();
      const bin = join(home, ".local", "bin");
      await mkdir(bin, { recursive: true });
      const trace = join(home, "ran");
      await writeFile(join(bin, "qwen"), otherQwen(trace), { mode: 0o755 });
      const r = await install({ home });
      assert.equal(r.code, 1);
      assert.ok(
        r.stderr.startsWith(
          `error: Cannot install "${join(bin, "qwen")}": "${join(bin, "qwen")}" is another program`,
        ),
        r.stderr,
      );
      assert.match(
        r.stderr,
        /^ {2}QWEN_INSTALL_FORCE=1 {10}install it as "qwen" anyway, replacing that file$/m,
      );
      assert.equal(await readFile(join(bin, "qwen"), "utf8"), otherQwen(trace));
      const forced = await install({ home, env: { QWEN_INSTALL_FORCE: "1" } });
      assert.equal(forced.code, 0, forced.stderr);
      await assertInstalled(join(bin, "qwen"), "0.2.0", "linux-x64");
      assert.ok(
        forced.stdout.includes(
          `Replaced "${join(bin, "qwen")}", which was another program (QWEN_INSTALL_FORCE=1).`,
        ),
        forced.stdout,
      );
      assert.equal(existsSync(trace), false);
    });

    it("recognises the real compiled binary as ours", async () => {
      const elsewhere = join(await homes.fresh(), "opt");
      await mkdir(elsewhere);
      await symlink(compiledBinary(), join(elsewhere, "qwen"));
      const r = await install({ path: [elsewhere] });
      assert.equal(r.code, 0, r.stderr);
      await assertInstalled(join(r.bin, "qwen"), "0.2.0", "linux-x64");
    });

    it("is not stopped by another copy of ours elsewhere on PATH", async () => {
      const elsewhere = join(await homes.fresh(), "opt");
      await mkdir(elsewhere);
      await writeFile(join(elsewhere, "qwen"), ourBinary("0.1.0", "linux-x64"), { mode: 0o755 });
      const r = await install({ path: [elsewhere] });
      assert.equal(r.code, 0, r.stderr);
      await assertInstalled(join(r.bin, "qwen"), "0.2.0", "linux-x64");
    });
  });
});
